# Idempotent submissions (issue 19): a JOB_SUBMIT carries a token made once per submission; the broker
# answers a token it accepted already with that first JOB_ACCEPTED and submits nothing. So a client whose
# reply was lost sends the same request again and gets one job, not two: by hand on the wire, and through
# the SDK with a first broker address that forwards the request to the broker and drops its reply.
import threading
import uuid

import zmq

from cluster import unique_id, wait_until, write_script
from fake_node import FakeNode
from titan_sdk import TitanClient, TitanJob, protocol
from titan_sdk.protocol import MsgType


def submit_fields(job_id, token):
    fields = {"jobs": [{"id": job_id, "file": "t.sh"}], "files": [{"name": "t.sh", "content": b"true\n"}]}
    if token is not None:
        fields["token"] = token
    return fields


def test_the_same_token_sent_twice_on_the_wire_makes_one_job(raw):
    job_id, token = unique_id("tok"), uuid.uuid4().hex
    first = raw(MsgType.JOB_SUBMIT, **submit_fields(job_id, token))
    assert first["ids"] == [job_id]
    again = raw(MsgType.JOB_SUBMIT, **submit_fields(job_id, token))
    assert (again["ids"], again.get("dag")) == (first["ids"], first.get("dag"))
    wait_until("the job ends", lambda: raw(MsgType.JOB_GET, id=job_id)["job"]["state"] == "COMPLETED")
    # Once it ended, the same id without the token would start run 2; with it, the first answer again.
    late = raw(MsgType.JOB_SUBMIT, **submit_fields(job_id, token))
    assert (late["ids"], late.get("dag")) == (first["ids"], first.get("dag"))
    info = raw(MsgType.JOB_GET, id=job_id)
    assert info["runs"] == 1, info
    stats = raw(MsgType.STATS_GET)
    assert stats["submissions_replayed"] >= 2


def test_without_a_token_the_same_id_again_is_a_new_run_as_before(raw):
    job_id = unique_id("notok")
    raw(MsgType.JOB_SUBMIT, **submit_fields(job_id, None))
    wait_until("the job ends", lambda: raw(MsgType.JOB_GET, id=job_id)["job"]["state"] == "COMPLETED")
    again = raw(MsgType.JOB_SUBMIT, **submit_fields(job_id, None))
    assert again["ids"] == [job_id]
    assert raw(MsgType.JOB_GET, id=job_id)["runs"] == 2


class ReplyDropper:
    """A broker address that forwards each request to the real broker and drops the reply, recording it: the
    request was applied, its answer never came back (a broker killed after its commit, a lost connection)."""

    def __init__(self, broker_port):
        self.broker = "tcp://127.0.0.1:%d" % broker_port
        self.dropped = []  # the decoded replies the client never got
        self._ctx = zmq.Context()
        self._sock = None
        self._lock = threading.Lock()
        self.node = FakeNode(self.respond)

    def respond(self, d, frames):
        if self._sock is None:  # made on the node's thread, which alone uses it until the node stops
            self._sock = self._ctx.socket(zmq.DEALER)
            self._sock.setsockopt(zmq.LINGER, 0)
            self._sock.connect(self.broker)
        self._sock.send_multipart([b""] + list(frames))
        if self._sock.poll(30_000):
            _, *reply = self._sock.recv_multipart()
            with self._lock:
                self.dropped.append(protocol.decode(reply))
        return []

    def replies(self):
        with self._lock:
            return list(self.dropped)

    def __enter__(self):
        self.node.__enter__()
        return self

    def __exit__(self, *exc):
        self.node.__exit__(*exc)  # its thread has ended
        if self._sock is not None:
            self._sock.close(0)
        self._ctx.term()


def test_a_submission_whose_reply_was_lost_is_sent_again_and_makes_one_job(cluster, tmp_path, monkeypatch):
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT", "TITAN_JOB_ID", "TITAN_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    script = write_script(tmp_path, "once.sh", "true\n")
    job_id = unique_id("lost-reply")
    with ReplyDropper(cluster.port) as dropper:
        hosts = "127.0.0.1:%d,127.0.0.1:%d" % (dropper.node.port, cluster.port)
        with TitanClient(host=hosts, timeout=3) as c:
            assert c.submit_job(TitanJob(job_id, script)) == job_id  # retried, not NoReplyError
            assert c.port == cluster.port
            assert c.wait(job_id, timeout=60) == "COMPLETED"
            assert [r.run for r in c.job_history(job_id)] == [1]
        # The first send was accepted by the broker: its JOB_ACCEPTED is the one that was dropped.
        assert [(r.type, r.fields["ids"]) for r in dropper.replies()] == [(MsgType.JOB_ACCEPTED, [job_id])]


def test_pipelined_submissions_whose_replies_were_lost_are_sent_again_once_each(cluster, monkeypatch):
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT", "TITAN_JOB_ID", "TITAN_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)
    ids = [unique_id("lost-many-%d" % i) for i in range(5)]
    with ReplyDropper(cluster.port) as dropper:
        hosts = "127.0.0.1:%d,127.0.0.1:%d" % (dropper.node.port, cluster.port)
        with TitanClient(host=hosts, timeout=3) as c:
            assert c.submit_many([TitanJob(j, command="true") for j in ids]) == ids
            for j in ids:
                assert c.wait(j, timeout=60) == "COMPLETED"
                assert [r.run for r in c.job_history(j)] == [1], j
        accepted = sorted(i for r in dropper.replies() if r.type == MsgType.JOB_ACCEPTED for i in r.fields["ids"])
        assert accepted == sorted(ids)


def test_the_sdk_sends_an_unanswered_submission_again_with_the_same_token(monkeypatch):
    """No cluster: a first broker that never answers, a second that accepts; the client's one submission reaches
    both with one token, and a second submission gets a token of its own."""
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT", "TITAN_JOB_ID", "TITAN_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)

    def accept(d, frames):
        ids = [j["id"] for j in d.fields["jobs"]]
        return [protocol.encode(MsgType.JOB_ACCEPTED, {"ids": ids, "dag": ids[0], "rid": d.rid})]

    with FakeNode(lambda d, frames: []) as silent, FakeNode(accept) as broker:
        with TitanClient(host="127.0.0.1:%d,127.0.0.1:%d" % (silent.port, broker.port), timeout=0.5) as c:
            assert c.submit_job(TitanJob("j1", command="true")) == "j1"
            assert c.submit_job(TitanJob("j2", command="true")) == "j2"
        sent = [(d.fields["jobs"][0]["id"], d.fields.get("token")) for d in silent.requests + broker.requests
                if d.type == MsgType.JOB_SUBMIT]
        assert [j for j, _ in sent] == ["j1", "j1", "j2"]
        assert sent[0][1] and sent[0][1] == sent[1][1] and sent[2][1] not in (None, sent[0][1])


def test_the_cli_sends_an_unanswered_submission_to_the_next_broker_with_its_token(cluster, tmp_path):
    """`titan run` given a first broker whose reply is lost after the broker accepted the job: the CLI sends the
    same JOB_SUBMIT (same token) to the next broker and the job runs once."""
    from cli import titan_ok
    script = write_script(tmp_path, "cli_once.sh", "true\n")
    job_id = unique_id("cli-lost-reply")
    with ReplyDropper(cluster.port) as dropper:
        hosts = "127.0.0.1:%d,127.0.0.1:%d" % (dropper.node.port, cluster.port)
        titan_ok(cluster.port, ["--timeout", "3000", "run", script, "--id", job_id], env={"TITAN_HOST": hosts})
        assert [(r.type, r.fields["ids"]) for r in dropper.replies()] == [(MsgType.JOB_ACCEPTED, [job_id])]
    with TitanClient(port=cluster.port, timeout=10) as c:
        assert c.wait(job_id, timeout=60) == "COMPLETED"
        assert [r.run for r in c.job_history(job_id)] == [1]
