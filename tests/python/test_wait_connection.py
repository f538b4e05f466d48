# wait() and wait_dag() are driven by one event subscription per client (issue 18: a connection per wait left
# ~10,000 TIME_WAIT sockets after 10,000 waits, a JOB_WAIT long-poll held a socket per waiting thread): counted
# from the kernel's own socket table, /proc/net/tcp. Lost events are covered by the fallback checks.
import os
import threading

import pytest

from cluster import unique_id, write_script
from titan_sdk import TitanError, TitanJob, TitanTimeoutError
from titan_sdk.protocol import MsgType
from titan_sdk.transport import Connection

TIME_WAIT = "06"
ESTABLISHED = "01"


def sockets_to(port: int, state: str = "") -> int:
    """This machine's IPv4 TCP sockets whose remote end is 127.0.0.1:`port` (in `state`, a /proc/net/tcp code)."""
    n = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            fields = row.split()
            remote, st = fields[2], fields[3]
            if remote.upper() == "0100007F:%04X" % port and (not state or st == state):
                n += 1
    return n


def pub_port(cluster) -> int:
    conn = Connection("tcp://127.0.0.1:%d" % cluster.port, "the test cluster's broker")
    try:
        return conn.request(MsgType.HELLO, {"client": "test"}, 10).fields["pub_port"]
    finally:
        conn.close()


def watch_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "titan-job-watch")


def command(job_id: str, *args: str, **kw) -> TitanJob:
    return TitanJob(job_id, command="/bin/sh", argv=["-c", " ".join(args) or "true"], **kw)


def feed_live(client) -> None:
    """Returns once the client's event subscription has delivered an event: it reached the broker (jobs ended
    before that are found by the check each wait starts with, so a few may be needed)."""
    for _ in range(50):
        job_id = unique_id("feed")
        client.submit_job(command(job_id))
        assert client.wait(job_id, timeout=60) == "COMPLETED"
        if client._watch.delivered:
            return
    raise AssertionError("no event came through the subscription after 50 jobs")


def feed_live_without_rechecks(client, monkeypatch) -> None:
    """feed_live, and no waiter's fallback check of the broker within the test: what a followed wait asks the
    broker is then only what the feed could not answer."""
    feed_live(client)
    monkeypatch.setattr("titan_sdk.job_watch.RECHECK_S", 600)


def test_many_waits_leave_no_time_wait_sockets(cluster, broker_client, tmp_path):
    job_id = unique_id("waited")
    broker_client.submit_job(TitanJob(job_id, write_script(tmp_path, "w.py", "print('done')")))
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    before = sockets_to(cluster.port, TIME_WAIT)
    for _ in range(300):
        assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    assert sockets_to(cluster.port, TIME_WAIT) - before < 10  # a connection per call left 300


def test_threads_waiting_at_once_share_one_subscription_and_one_thread(cluster, broker_client):
    port = pub_port(cluster)
    subscribed_before, threads_before = sockets_to(port, ESTABLISHED), watch_threads()
    gate = unique_id("gate")  # every job waits for this one, so all eight waits are in progress together
    broker_client.submit_job(command(gate, "sleep 0.5"))
    ids = [unique_id("threaded") for _ in range(8)]
    for job_id in ids:
        broker_client.submit_job(command(job_id, parents=[gate]))
    states, started = {}, threading.Barrier(len(ids) + 1, timeout=60)

    def wait(job_id):
        started.wait()
        states[job_id] = broker_client.wait(job_id, timeout=60)

    threads = [threading.Thread(target=wait, args=(j,)) for j in ids]
    for t in threads:
        t.start()
    started.wait()
    for t in threads:
        t.join(60)
    assert states == {j: "COMPLETED" for j in ids}
    # One SUB connection for all the waits (at most one more than before: another test's client may have closed
    # its own meanwhile), and it is the one the events came through.
    assert sockets_to(port, ESTABLISHED) - subscribed_before <= 1
    assert watch_threads() - threads_before == 1
    assert broker_client._watch.delivered > 0


def test_a_job_that_ended_before_the_first_wait_is_found(cluster, broker_client, monkeypatch):
    job_id = unique_id("ended")
    broker_client.submit_job(command(job_id))
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    from conftest import client_of
    with client_of(cluster, monkeypatch) as fresh:  # its subscription starts after the job's events were sent
        assert fresh.wait(job_id, timeout=60) == "COMPLETED"
        assert fresh.wait("DAG-" + job_id, timeout=60) == "COMPLETED"


def test_lost_events_are_recovered_by_the_fallback_check(broker_client):
    feed_live(broker_client)
    watch = broker_client._watch
    watch.drop_events = True  # from now on the thread reads every event and throws it away
    job_id, dag_job = unique_id("lost"), unique_id("lost-dag")
    broker_client.submit_job(command(job_id, "exit 3"))
    assert broker_client.wait(job_id, timeout=60) == "FAILED"
    broker_client.submit_dag(None, [command(dag_job)])
    assert broker_client.wait_dag(broker_client.last_dag, timeout=60)["state"] == "COMPLETED"
    assert watch.dropped > 0  # the events did come, and were lost: the checks found the end


def test_unknown_job_and_timeout(broker_client):
    from titan_sdk import JobNotFoundError
    with pytest.raises(JobNotFoundError):
        broker_client.wait(unique_id("nobody"), timeout=5)
    job_id = unique_id("later")
    broker_client.submit_job(command(job_id, delay=600_000))  # scheduled in ten minutes
    try:
        with pytest.raises(TitanTimeoutError, match="still SCHEDULED"):
            broker_client.wait(job_id, timeout=0.3)
    finally:
        broker_client.stop_job(job_id)
    assert broker_client.wait(job_id, timeout=60) == "CANCELLED"


def test_close_stops_the_thread_and_ends_waits_in_progress(cluster, monkeypatch):
    from conftest import client_of
    client = client_of(cluster, monkeypatch)
    job_id = unique_id("closing")
    client.submit_job(command(job_id, delay=600_000))
    outcome, waiting = {}, threading.Event()

    def wait():
        waiting.set()
        try:
            outcome["state"] = client.wait(job_id)
        except TitanError as e:
            outcome["error"] = e

    t = threading.Thread(target=wait)
    t.start()
    assert waiting.wait(60)
    watch = client._job_watch()
    while watch._thread is None:  # the waiting thread starts it: wait for that without a sleep
        with watch._cond:
            watch._cond.wait(0.05)
    thread = watch._thread
    client.close()
    t.join(60)
    assert not t.is_alive() and not thread.is_alive()
    assert "closed" in str(outcome["error"])
    with client_of(cluster, monkeypatch) as other:
        other.stop_job(job_id)


def test_wait_dag_follows_the_events_of_its_jobs(broker_client):
    feed_live(broker_client)
    delivered = broker_client._watch.delivered
    a, b, c = unique_id("a"), unique_id("b"), unique_id("c")
    broker_client.submit_dag(unique_id("dag"), [command(a), command(b, parents=[a]), command(c, "exit 1", parents=[a])])
    dag = broker_client.wait_dag(broker_client.last_dag, timeout=60)
    assert dag["state"] == "FAILED"
    assert {j.id: j.state for j in dag["jobs"]} == {a: "COMPLETED", b: "COMPLETED", c: "FAILED"}
    assert broker_client._watch.delivered > delivered


def test_a_forked_child_waits_on_a_subscription_of_its_own(broker_client):
    job_id = unique_id("forked")
    broker_client.submit_job(command(job_id))
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"  # the parent's watch runs before the fork
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            child_job = unique_id("child")
            broker_client.submit_job(command(child_job))
            code = 0 if broker_client.wait(child_job, timeout=60) == "COMPLETED" else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"


def test_a_client_dropped_without_close_stops_its_thread(cluster, monkeypatch):
    import gc
    from conftest import client_of
    client = client_of(cluster, monkeypatch)
    job_id = unique_id("dropped")
    client.submit_job(command(job_id))
    assert client.wait(job_id, timeout=60) == "COMPLETED"
    thread = client._watch._thread
    del client
    gc.collect()
    thread.join(60)
    assert not thread.is_alive()


def count_requests(client, monkeypatch):
    """The message types of the client's requests to the broker from now on."""
    asked = []
    real = client._broker_call

    def counting(msg_type, **fields):
        asked.append(msg_type)
        return real(msg_type, **fields)

    monkeypatch.setattr(client, "_broker_call", counting)
    return asked


def test_a_wait_on_a_job_this_client_submitted_needs_no_check(broker_client, monkeypatch):
    feed_live_without_rechecks(broker_client, monkeypatch)
    asked = count_requests(broker_client, monkeypatch)
    ok, bad = unique_id("followed"), unique_id("followed-bad")
    broker_client.submit_job(command(ok))
    broker_client.submit_job(command(bad, "exit 3"))
    assert broker_client.wait(ok, timeout=60) == "COMPLETED"
    assert broker_client.wait(bad, timeout=60) == "FAILED"
    assert asked == [MsgType.JOB_SUBMIT, MsgType.JOB_SUBMIT], asked  # the submissions, and no JOB_GET
    assert not broker_client._watch._tracked  # both trackers were taken by their waits
    many = broker_client.submit_many([command(unique_id("followed-many")) for _ in range(20)])  # pipelined
    assert [broker_client.wait(job_id, timeout=60) for job_id in many] == ["COMPLETED"] * 20
    assert asked == [MsgType.JOB_SUBMIT, MsgType.JOB_SUBMIT], asked  # still no JOB_GET


def test_a_followed_wait_skips_a_late_event_of_an_earlier_run(broker_client, monkeypatch):
    from titan_sdk import protocol
    feed_live_without_rechecks(broker_client, monkeypatch)
    watch = broker_client._watch
    job_id = unique_id("reused")
    broker_client.submit_job(command(job_id))
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    real_accepted = broker_client._accepted

    def then_a_late_event(trackers, reply):
        real_accepted(trackers, reply)  # the run's tracker now knows when the broker accepted it
        stale = protocol.encode(MsgType.EVENT_JOB, {"id": job_id, "state": "COMPLETED", "attempt": 1,
                                                    "ts_ms": reply["submitted_ms"] - 1})
        watch._hand_out([[b"job." + job_id.encode()] + stale])  # the first run's end, delivered late

    monkeypatch.setattr(broker_client, "_accepted", then_a_late_event)
    broker_client.submit_job(command(job_id, "exit 3"))  # the same id again: its second run fails
    assert broker_client.wait(job_id, timeout=60) == "FAILED"


def test_trackers_are_bounded_and_an_evicted_one_waits_by_checking(broker_client, monkeypatch):
    feed_live_without_rechecks(broker_client, monkeypatch)
    monkeypatch.setattr("titan_sdk.job_watch.TRACKED_MAX", 2)
    ids = [unique_id("bounded") for _ in range(3)]
    for job_id in ids:
        broker_client.submit_job(command(job_id))
    assert list(broker_client._watch._tracked) == ids[1:]  # the oldest was forgotten first
    asked = count_requests(broker_client, monkeypatch)
    for job_id in ids:
        assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    assert asked == [MsgType.JOB_GET], asked  # only the forgotten one's wait asked the broker


def test_a_followed_wait_checks_once_the_client_moved_to_another_broker(broker_client, monkeypatch):
    feed_live_without_rechecks(broker_client, monkeypatch)
    watch = broker_client._watch
    job_id = unique_id("moved")
    broker_client.submit_job(command(job_id))
    assert job_id in watch._tracked
    watch._source = "tcp://elsewhere:1"  # as if the feed still followed the broker used before a failover
    asked = count_requests(broker_client, monkeypatch)
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"
    # The tracker was dropped: the wait checked (once more after the feed moved, as every waiter does)...
    assert asked and set(asked) == {MsgType.JOB_GET}, asked
    assert watch._source == broker_client.endpoint and watch.moves >= 1  # ...and the check moved the feed
