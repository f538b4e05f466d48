# The SDK paths with connections of their own follow the leader among several brokers (issue 19), against
# scripted nodes: submit_async's pipeline moves to the leader a standby names (and sends the refused
# submissions there), or to the next broker after silence; wait()'s event feed rechecks every wait at once
# when its connection drops and moves to the new broker's PUB; a followed log moves its feed likewise.
# The same against real brokers killed with -9: test_broker_failover.py.
import threading
import time

import zmq

from fake_node import FakeNode
from titan_sdk import NoReplyError, TitanClient, TitanJob, logs, protocol
from titan_sdk.job_watch import JobWatch
from titan_sdk.protocol import MsgType

DEADLINE_S = 30


def job(job_id):
    return TitanJob(job_id, command="true")


def leader_node(d, frames):
    """Accepts every JOB_SUBMIT, each job on its own with `each` (and answers HELLO)."""
    if d.type == MsgType.JOB_SUBMIT:
        ids = [j["id"] for j in d.fields["jobs"]]
        each = [{"ids": [i], "dag": i} for i in ids] if d.fields.get("each") else None
        return [protocol.encode(MsgType.JOB_ACCEPTED, {"rid": d.rid, "ids": ids, "each": each})]
    return [protocol.encode(MsgType.WELCOME, {"rid": d.rid, "node": "broker", "version": "test"})]


def not_leader(leader):
    def respond(d, frames):
        return [protocol.encode(MsgType.ERROR, {"rid": d.rid, "code": "NOT_LEADER", "leader": leader,
                                                "reason": "this broker is a standby"})]
    return respond


def submits(node):
    return [j["id"] for d in node.requests if d.type == MsgType.JOB_SUBMIT for j in d.fields["jobs"]]


def test_pipelined_submissions_a_standby_refuses_go_to_the_leader_it_names():
    with FakeNode(leader_node) as leader, FakeNode(not_leader("127.0.0.1:0")) as standby:
        standby.respond = not_leader("127.0.0.1:%d" % leader.port)
        ids = ["s%d" % i for i in range(20)]
        with TitanClient(host="127.0.0.1:%d,127.0.0.1:%d" % (standby.port, leader.port), timeout=5) as c:
            assert c.submit_many([job(j) for j in ids], window=8) == ids
            assert c.port == leader.port
            assert c.submit_async(job("after")).result() == "after"  # the pipeline stays with the leader
        assert sorted(submits(leader)) == sorted(ids + ["after"])
        assert set(submits(standby)) <= set(ids) and "after" not in submits(standby)
        # submit_many's messages (up to 8 jobs each here, JOB_SUBMIT.each) went to the leader as sent to the
        # standby: the same jobs under the same token, so a broker that had accepted one would answer it again.
        sent = {d.fields["token"]: [j["id"] for j in d.fields["jobs"]] for d in standby.requests
                if d.type == MsgType.JOB_SUBMIT}
        resent = {d.fields["token"]: [j["id"] for j in d.fields["jobs"]] for d in leader.requests
                  if d.type == MsgType.JOB_SUBMIT}
        assert sent and all(resent.get(token) == jobs for token, jobs in sent.items())
        assert any(len(jobs) > 1 for jobs in sent.values())


def test_a_standby_taking_over_is_asked_again_until_it_leads():
    refusals = []

    def taking_over(d, frames):
        if len(refusals) < 3:  # names no leader for its first three answers, then leads
            refusals.append(d.rid)
            return not_leader(None)(d, frames)
        return leader_node(d, frames)

    with FakeNode(taking_over) as node:
        with TitanClient(host="127.0.0.1:%d" % node.port, timeout=5) as c:
            assert c.submit_many([job("t1"), job("t2")]) == ["t1", "t2"]
        assert sorted(set(submits(node))) == ["t1", "t2"] and len(refusals) == 3


def test_after_silence_the_pipeline_sends_again_to_the_next_broker_with_the_same_token(free_port):
    with FakeNode(leader_node) as leader:
        with TitanClient(host="127.0.0.1:%d,127.0.0.1:%d" % (free_port, leader.port), timeout=0.5) as c:
            assert c.submit_async(job("lost")).result() == "lost"  # sent again: its token makes that safe
            assert c.port == leader.port
            assert c.submit_async(job("next")).result() == "next"
        assert submits(leader) == ["lost", "next"]


def test_with_one_broker_a_silent_submission_is_in_doubt(free_port):
    with TitanClient(host="127.0.0.1:%d" % free_port, timeout=0.3) as c:
        try:
            c.submit_async(job("lost")).result()
            raise AssertionError("a submission nothing answered was acknowledged")
        except NoReplyError:
            pass  # in doubt: get_job tells


class Pub:
    """A PUB socket the test publishes job events on, until the watch has them."""

    def __init__(self):
        self.sock = zmq.Context.instance().socket(zmq.PUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = "tcp://127.0.0.1:%d" % self.port

    def publish_until(self, watch, w, job_id, state):
        """Publishes EVENT_JOB(job_id, state) until `w` receives it (a new subscription misses the first ones)."""
        deadline = time.monotonic() + DEADLINE_S
        frames = protocol.encode(MsgType.EVENT_JOB, {"id": job_id, "state": state, "attempt": 1, "ts_ms": 1})
        while time.monotonic() < deadline:
            self.sock.send_multipart([("job." + job_id).encode()] + frames)
            for got_id, (got_state, _) in watch.next_events(w, time.monotonic() + 0.05):
                if (got_id, got_state) == (job_id, state):
                    return
        raise AssertionError("no %s event for %s reached the watch" % (state, job_id))


def test_the_event_feed_rechecks_at_once_when_lost_and_moves_to_the_new_broker():
    first, second = Pub(), Pub()
    where = {"broker": "a", "pub": first.endpoint}
    watch = JobWatch(lambda: where["pub"], None, lambda: where["broker"])
    try:
        w = watch.register(["j1"])
        other = watch.register(["j2"])
        first.publish_until(watch, w, "j1", "RUNNING")
        first.sock.close(linger=0)  # the broker dies: every waiter rechecks at once, not at its next interval
        assert watch.next_events(other, time.monotonic() + 600) == []
        assert watch.losses == 1
        watch.follow()  # the client still uses the same broker: the feed stays
        assert watch.moves == 0
        where.update(broker="b", pub=second.endpoint)  # a recheck found the new leader
        watch.follow()
        assert (watch.moves, watch.pub) == (1, second.endpoint)
        assert watch.next_events(other, time.monotonic() + 600) == []  # every wait rechecks: events were lost
        second.publish_until(watch, other, "j2", "COMPLETED")
    finally:
        watch.close()
        second.sock.close(linger=0)


def test_a_followed_log_moves_its_feed_to_the_new_broker():
    first, second = Pub(), Pub()
    log = {"data": b"", "complete": False}
    where = {"pub": first.endpoint}
    lock = threading.Lock()

    def read(offset):
        with lock:
            return log["data"][offset:], log["complete"]

    chunks = logs.follow(read, lambda: where["pub"], "j", None)
    try:
        with lock:
            log["data"] = b"one\n"
        assert next(chunks) == "one\n"
        where["pub"] = second.endpoint  # a failover: the client's broker (and its PUB) changed
        first.sock.close(linger=0)  # the old feed drops: a catch-up at once, then the feed moves
        with lock:
            log["data"] += b"two\n"
        assert next(chunks) == "two\n"
        # The new feed: an event only it carries ("three" is not in what `read` returns) reaches the reader.
        frames = protocol.encode(MsgType.EVENT_LOG, {"id": "j", "offset": 8, "stream": "stdout"}, [b"three\n"])
        got = threading.Event()

        def publish():  # until read: a new subscription misses the first ones
            while not got.wait(0.05):
                second.sock.send_multipart([b"log.j"] + frames)

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        try:
            got_chunk = next(chunks)
        finally:
            got.set()
            publisher.join(DEADLINE_S)
        assert got_chunk == "three\n"
        with lock:
            log["data"] += b"three\n"
            log["complete"] = True
        assert list(chunks) == []
    finally:
        chunks.close()
        second.sock.close(linger=0)


def test_a_log_read_from_another_broker_goes_on_from_that_logs_start():
    """Each broker keeps job logs in its own --dir: after a failover the new leader's log of a job holds what it
    wrote from then on, from offset 0; the reader goes on there (LogRestarted), neither skipping nor repeating."""
    old, new = b"before\n", b"after\n"
    state = {"broker": "old"}

    def read(offset):
        if state["broker"] == "moving":  # this read was answered by the new leader
            state["broker"] = "new"
            raise logs.LogRestarted()
        log = old if state["broker"] == "old" else new
        return log[offset:], state["broker"] == "new"

    reader = logs.LogReader(read)
    assert reader.catch_up() == ["before\n"]
    state["broker"] = "moving"
    assert reader.catch_up() == ["after\n"] and reader.complete and reader.restarts == 1
