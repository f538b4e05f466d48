# Pipelined submissions (issue 18): submit_async / submit_many keep a window of one-job submissions in flight
# on one connection, each answered (or refused, with the broker's reason) on its own handle.
import threading

import pytest

from cluster import unique_id, write_script
from fake_node import FakeNode
from titan_sdk import InvalidError, NoReplyError, SubmitHandle, TitanClient, TitanError, TitanJob, protocol
from titan_sdk import transport
from titan_sdk.errors import TitanProtocolError
from titan_sdk.protocol import MsgType


def true_job(job_id: str, **kw) -> TitanJob:
    return TitanJob(job_id, command="true", **kw)


def test_submit_many_returns_the_ids_in_order_and_the_jobs_run(broker_client):
    ids = [unique_id("many-%02d" % i) for i in range(40)]
    assert broker_client.submit_many([true_job(j) for j in ids], window=8) == ids
    assert [broker_client.wait(j, timeout=60) for j in ids] == ["COMPLETED"] * len(ids)


def test_submit_async_returns_a_handle_that_gives_the_id(broker_client):
    job_id = unique_id("async")
    handle = broker_client.submit_async(true_job(job_id))
    assert isinstance(handle, SubmitHandle) and handle.job_id == job_id
    assert handle.result() == job_id and handle.result() == job_id  # settled once, read any number of times
    assert handle.done() and handle.exception() is None and handle.ids == [job_id]
    assert broker_client.wait(job_id, timeout=60) == "COMPLETED"


def test_each_refusal_is_raised_by_its_own_handle_with_the_brokers_reason(broker_client):
    live = unique_id("live")
    broker_client.submit_job(true_job(live, delay=600_000))  # scheduled in ten minutes: its id stays in use
    try:
        before, after = unique_id("before"), unique_id("after")
        out = broker_client.submit_many([true_job(before), true_job(live), true_job(after),
                                         true_job(unique_id("orphan"), parents=["no-such-parent-here"])], return_exceptions=True)
        assert out[0] == before and out[2] == after
        assert isinstance(out[1], InvalidError) and "'%s' is in use" % live in str(out[1])
        assert isinstance(out[3], InvalidError) and "unknown parent ids" in str(out[3])
        with pytest.raises(InvalidError, match="is in use"):
            broker_client.submit_many([true_job(unique_id("ok")), true_job(live)])
        handle = broker_client.submit_async(true_job(live))
        with pytest.raises(InvalidError, match="is in use"):
            handle.result()
        assert broker_client.get_job(live).state == "SCHEDULED"  # refused submissions changed nothing
    finally:
        broker_client.stop_job(live)


def test_a_window_bigger_than_the_jobs_and_a_window_of_one(broker_client):
    ids = [unique_id("w") for _ in range(3)]
    assert broker_client.submit_many([true_job(j) for j in ids], window=1000) == ids
    ids = [unique_id("w1") for _ in range(5)]
    assert broker_client.submit_many([true_job(j) for j in ids], window=1) == ids
    with pytest.raises(ValueError, match="window"):
        broker_client.submit_async(true_job(unique_id("w0")), window=0)


def test_each_distinct_script_is_sent_once(broker_client, tmp_path, monkeypatch):
    sent = []  # the files of every JOB_SUBMIT the pipeline sends: (name, "content" or "sha256")
    real_send = transport.Pipeline.send

    def spy(self, msg_type, fields, blobs=()):
        sent.append([(f["name"], "content" if f.get("content") is not None else "sha256") for f in fields["files"]])
        return real_send(self, msg_type, fields, blobs)

    monkeypatch.setattr(transport.Pipeline, "send", spy)
    one = write_script(tmp_path, "one.sh", "echo one-%s" % unique_id("x"))
    two = write_script(tmp_path, "two.sh", "echo two-%s" % unique_id("y"))
    jobs = [TitanJob(unique_id("f"), one if i % 2 == 0 else two) for i in range(20)]
    assert broker_client.submit_many(jobs, batch=4) == [j.job_id for j in jobs]
    assert len(sent) == 5  # 4 jobs per message, each message naming each of its two files once
    assert sorted(name for files in sent for name, how in files if how == "content") == ["one.sh", "two.sh"]
    assert [sorted(files) for files in sent[1:]] == [[("one.sh", "sha256"), ("two.sh", "sha256")]] * 4
    assert [broker_client.wait(j.job_id, timeout=60) for j in jobs] == ["COMPLETED"] * 20
    assert broker_client.fetch_logs(jobs[1].job_id).startswith("two-")


def test_threads_submit_at_once(broker_client):
    out, errors = {}, []

    def submit(n):
        try:
            ids = [unique_id("t%d" % n) for _ in range(25)]
            out[n] = (ids, broker_client.submit_many([true_job(j) for j in ids], window=4))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert len(out) == 4 and all(ids == got for ids, got in out.values())


def test_no_answer_from_the_only_broker_raises_on_every_handle_due(free_port, monkeypatch):
    from titan_sdk import TitanClient
    monkeypatch.delenv("TITAN_CREDENTIALS", raising=False)
    with TitanClient(port=free_port, timeout=0.3) as client:  # nothing listens there
        handles = [client.submit_async(true_job("lost-%d" % i)) for i in range(3)]
        for h in handles:  # one broker named: no other to send it to
            with pytest.raises(NoReplyError, match="sent 1 time with its token.*may or may not have been accepted"):
                h.result()
        assert not client._submitter._pending


def test_close_reads_the_answers_still_due(cluster, monkeypatch):
    from conftest import client_of
    client = client_of(cluster, monkeypatch)
    handles = [client.submit_async(true_job(unique_id("closing"))) for _ in range(10)]
    client.close()
    assert [h.result() for h in handles] == [h.job_id for h in handles]


def test_submit_many_raises_for_a_bad_job_before_sending_any(broker_client, tmp_path):
    first = unique_id("first")
    with pytest.raises(TypeError, match="TitanJob"):
        broker_client.submit_many([true_job(first), "not a job"])
    folder = TitanJob(unique_id("folder"), str(tmp_path))  # a job can be made for it; planning its send fails
    with pytest.raises(TitanError, match="is a directory"):
        broker_client.submit_many([true_job(first), folder])
    assert broker_client.get_job(first) is None  # nothing was sent


def test_submit_many_sends_its_jobs_in_messages_of_batch_jobs(broker_client, monkeypatch):
    sent = []  # (jobs, each) of every JOB_SUBMIT the pipeline sends
    real_send = transport.Pipeline.send

    def spy(self, msg_type, fields, blobs=()):
        sent.append((len(fields["jobs"]), fields.get("each")))
        return real_send(self, msg_type, fields, blobs)

    monkeypatch.setattr(transport.Pipeline, "send", spy)
    ids = [unique_id("batched") for _ in range(25)]
    assert broker_client.submit_many([true_job(j) for j in ids], batch=10, window=20) == ids
    assert sent == [(10, True), (10, True), (5, True)]
    sent.clear()
    lone = unique_id("lone")
    assert broker_client.submit_many([true_job(lone)]) == [lone]
    assert sent == [(1, None)]  # one job: a JOB_SUBMIT of its own
    assert [broker_client.wait(j, timeout=60) for j in ids + [lone]] == ["COMPLETED"] * 26


def test_an_answer_without_one_outcome_per_job_fails_each_handle_and_the_client_goes_on(monkeypatch):
    """No cluster: a broker that answers a JOB_SUBMIT with `each` as an older one would (ids, no `each`). Each job's
    handle says what went wrong and how to find out what was accepted; later submissions are answered as usual."""
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT", "TITAN_JOB_ID", "TITAN_CREDENTIALS"):
        monkeypatch.delenv(var, raising=False)

    def old_broker(d, frames):
        ids = [j["id"] for j in d.fields["jobs"]]
        return [protocol.encode(MsgType.JOB_ACCEPTED, {"rid": d.rid, "ids": ids})]

    with FakeNode(old_broker) as node:
        with TitanClient(host="127.0.0.1:%d" % node.port, timeout=5) as c:
            out = c.submit_many([true_job("a"), true_job("b")], return_exceptions=True)
            assert [type(e) for e in out] == [TitanProtocolError, TitanProtocolError]
            assert "without one outcome per job" in str(out[0]) and "get_job" in str(out[0])
            assert c.submit_many([true_job("c")]) == ["c"]  # one job: a JOB_SUBMIT of its own
