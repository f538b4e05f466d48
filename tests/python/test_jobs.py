# The SDK's job API against a real cluster (store, broker, workers w1 and w2): submit, wait, status,
# logs, DAG order, refused submissions, failures, retries and stop. Waits use the broker's JOB_WAIT
# long-poll or the event feed, each with a deadline; no test sleeps to wait for a state.
import os

import pytest

from cluster import unique_id, write_script
from titan_sdk import (InvalidError, JobFileNotFoundError, JobInfo, JobNotFoundError, TitanError, TitanJob,
                       TitanTimeoutError)

DEADLINE_S = 60  # for jobs that finish in about a second


@pytest.fixture
def hello(tmp_path):
    return write_script(tmp_path, "hello.py", """
        import os, sys
        print("hello from", os.environ["TITAN_JOB_ID"], "args", sys.argv[1:])
        print("to stderr", file=sys.stderr)
    """)


def test_submit_job_wait_and_fetch_logs_round_trip(broker_client, hello):
    job_id = unique_id("hello")
    assert broker_client.submit_job(TitanJob(job_id, hello, args="--n 3 'two words'")) == job_id
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
    logs = broker_client.fetch_logs(job_id)
    assert "hello from %s args ['--n', '3', 'two words']\n" % job_id in logs
    assert "to stderr\n" in logs
    info = broker_client.get_job(job_id)
    assert isinstance(info, JobInfo) and info.is_final
    assert (info.id, info.state, info.file, info.exit_code, info.attempt) == (job_id, "COMPLETED", "hello.py", 0, 1)
    assert info.worker in ("w1", "w2") and info["state"] == "COMPLETED"
    assert info.submitted_ms <= info.started_ms <= info.finished_ms
    assert broker_client.get_job_status(job_id) == "COMPLETED"
    assert broker_client.get_job_status("DAG-" + job_id) == "COMPLETED"  # the broker resolves DAG-<id>
    assert job_id in [j.id for j in broker_client.list_jobs(state="completed", limit=1000)]


def test_unknown_ids_give_none_or_empty_or_job_not_found(broker_client):
    missing = unique_id("never-submitted")
    assert broker_client.get_job_status(missing) is None
    assert broker_client.get_job(missing) is None
    assert broker_client.fetch_logs(missing) == ""
    for call in (broker_client.wait, broker_client.stop_job, broker_client.stream_logs):
        with pytest.raises(JobNotFoundError):
            call(missing)


def test_a_job_file_neither_here_nor_deployed_is_a_file_not_found_error_naming_the_path(broker_client):
    path = os.path.join("nowhere", unique_id("train") + ".py")  # not here: the broker looks in perm_files
    job_id = unique_id("nofile")
    with pytest.raises(JobFileNotFoundError) as e:
        broker_client.submit_job(TitanJob(job_id, path))
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, TitanError)
    assert e.value.code == "NOT_FOUND"  # the broker's answer, with its reason
    assert path in str(e.value) and "give a path to the script" in str(e.value) and "deploy_script" in str(e.value)
    assert e.value.filename == path
    assert broker_client.get_job_status(job_id) is None


def test_dag_children_start_after_their_parents_completed(broker_client, hello):
    a, b, c, d = (unique_id(n) for n in "abcd")
    jobs = [TitanJob(d, hello, parents=[b, c]), TitanJob(b, hello, parents=[a]), TitanJob(c, hello, parents=[a]),
            TitanJob(a, hello, priority=5)]
    assert broker_client.submit_dag("diamond", jobs) == [d, b, c, a]
    assert broker_client.wait(d, timeout=DEADLINE_S) == "COMPLETED"
    info = {j: broker_client.get_job(j) for j in (a, b, c, d)}
    for child, parent in ((b, a), (c, a), (d, b), (d, c)):
        assert info[child].started_ms >= info[parent].finished_ms, (child, parent)
    assert info[d].parents == [b, c] and info[d].dag == "diamond"


@pytest.mark.parametrize("shape", ["duplicate", "cycle", "unknown_parent", "existing_id"])
def test_bad_submissions_are_refused_whole(broker_client, hello, shape):
    a, b, c = (unique_id(n) for n in "abc")
    if shape == "existing_id":
        broker_client.submit_job(TitanJob(a, hello, delay=600000))  # still waiting when `a` comes again
        jobs, expect = [TitanJob(b, hello), TitanJob(a, hello)], "is in use: run 1 of it is still SCHEDULED"
    else:
        jobs, expect = {
            "duplicate": ([TitanJob(a, hello), TitanJob(b, hello), TitanJob(a, hello)], "appears twice"),
            "cycle": ([TitanJob(a, hello, parents=[c]), TitanJob(b, hello, parents=[a]),
                       TitanJob(c, hello, parents=[b])], "cycle"),
            "unknown_parent": ([TitanJob(a, hello), TitanJob(b, hello, parents=[unique_id("ghost")])],
                               "unknown parent"),
        }[shape]
    with pytest.raises(InvalidError) as e:
        broker_client.submit_dag(shape, jobs)
    assert expect in e.value.reason and e.value.code == "INVALID"
    for j in (b, c) if shape == "existing_id" else (a, b, c):
        assert broker_client.get_job_status(j) is None  # nothing of the submission was accepted


def test_failing_job_ends_failed_with_its_exit_code_and_skips_children(broker_client, tmp_path, hello):
    fail = write_script(tmp_path, "fail.py", """
        import sys
        print("about to fail")
        sys.exit(3)
    """)
    parent, child = unique_id("fail"), unique_id("after-fail")
    broker_client.submit_dag("failing", [TitanJob(parent, fail), TitanJob(child, hello, parents=[parent])])
    assert broker_client.wait(parent, timeout=DEADLINE_S) == "FAILED"
    info = broker_client.get_job(parent)
    assert (info.exit_code, info.attempt) == (3, 1)
    assert broker_client.fetch_logs(parent) == "about to fail\n"
    assert broker_client.wait(child, timeout=DEADLINE_S) == "SKIPPED"


def test_retries_2_ends_dead_after_3_attempts(broker_client, tmp_path):
    flaky = write_script(tmp_path, "flaky.sh", """
        echo "attempt $TITAN_ATTEMPT"
        exit 7
    """)
    job_id = unique_id("flaky")
    broker_client.submit_job(TitanJob(job_id, flaky, retries=2))
    streamed = "".join(broker_client.stream_logs(job_id))  # live across the attempts, until the job is DEAD
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "DEAD"
    info = broker_client.get_job(job_id)
    assert (info.attempt, info.exit_code) == (3, 7)
    logs = broker_client.fetch_logs(job_id)
    assert [line for line in logs.splitlines() if line.startswith("attempt ")] == \
        ["attempt 1", "attempt 2", "attempt 3"]
    assert streamed == logs  # the broker's "--- titan: attempt N" banners (no live event) included


def test_stop_of_a_running_job_cancels_it(broker_client, tmp_path):
    sleeper = write_script(tmp_path, "sleeper.py", """
        import time
        print("started", flush=True)
        time.sleep(300)
    """)
    job_id = unique_id("sleeper")
    broker_client.submit_job(TitanJob(job_id, sleeper))
    stream = broker_client.stream_logs(job_id)
    assert next(stream) == "started\n"  # it is running now
    with pytest.raises(TitanTimeoutError):
        broker_client.wait(job_id, timeout=0.3)
    assert broker_client.stop_job(job_id) in ("RUNNING", "CANCELLED")
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "CANCELLED"
    assert list(stream) == []  # the stream ends once the job has ended
    assert broker_client.stop_service(job_id) == "CANCELLED"  # stopping an ended job changes nothing


def test_stop_of_a_delayed_job_cancels_it_at_once(broker_client, hello):
    job_id = unique_id("delayed")
    broker_client.submit_job(TitanJob(job_id, hello, delay=120000))  # milliseconds, as the original SDK
    info = broker_client.get_job(job_id)
    assert info.state == "SCHEDULED" and "120000 ms" in info.reason
    assert broker_client.stop_job(job_id) == "CANCELLED"
    assert broker_client.fetch_logs(job_id) == ""


def test_stream_logs_yields_each_line_once_in_order(broker_client, tmp_path):
    printer = write_script(tmp_path, "printer.py", """
        import time
        for i in range(5):
            print("line", i, flush=True)
            time.sleep(0.2)
    """)
    job_id = unique_id("printer")
    broker_client.submit_job(TitanJob(job_id, printer))
    chunks = list(broker_client.stream_logs(job_id))
    assert "".join(chunks) == "".join("line %d\n" % i for i in range(5))
    assert broker_client.get_job_status(job_id) == "COMPLETED"
    assert "".join(broker_client.stream_logs(job_id)) == "".join(chunks)  # an ended job: its whole log
    assert "".join(broker_client.stream_logs(job_id, follow=False)) == "".join(chunks)


def test_log_tail_gives_the_end_of_a_log_and_where_to_read_on(broker_client):
    job_id = unique_id("tail")
    broker_client.submit_job(TitanJob(job_id, "counter.py", content="for i in range(3000): print('line', i)\n"))
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
    whole = broker_client.fetch_logs(job_id).encode()
    data, start, end, complete = broker_client.log_tail(job_id, max_bytes=100)
    assert (data, start, end, complete) == (whole[-100:], len(whole) - 100, len(whole), True)
    assert broker_client.log_tail(job_id, max_bytes=len(whole) * 2) == (whole, 0, len(whole), True)
    with pytest.raises(InvalidError):
        broker_client.log_tail(unique_id("missing"))


def test_env_and_timeout_reach_the_job(broker_client, tmp_path):
    script = write_script(tmp_path, "envtime.py", """
        import os, time
        print(os.environ["GREETING"], os.environ["TITAN_JOB_ID"], flush=True)
        time.sleep(300)
    """)
    job_id = unique_id("envtime")
    broker_client.submit_job(TitanJob(job_id, script, env={"GREETING": "hi there"}, timeout=1.5))
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "FAILED"  # killed after 1.5 s
    assert broker_client.fetch_logs(job_id) == "hi there %s\n" % job_id


def test_stats_show_both_workers(broker_client):
    stats = broker_client.get_stats()
    assert sorted(w["name"] for w in stats["workers"]) == ["w1", "w2"]
    assert {"queued", "running", "completed", "failed"} <= set(stats)


def _record_submits(client, monkeypatch):
    """The files of every JOB_SUBMIT the client sends, as [(name, 'content'|'sha256')] per request."""
    sent = []
    real = client._broker_call

    def spy(msg_type, **fields):
        if msg_type.name == "JOB_SUBMIT":
            sent.append([(f["name"], "content" if "content" in f else "sha256") for f in fields["files"]])
        return real(msg_type, **fields)

    monkeypatch.setattr(client, "_broker_call", spy)
    return sent


def test_a_script_sent_once_goes_by_its_hash_afterwards(broker_client, hello, monkeypatch):
    sent = _record_submits(broker_client, monkeypatch)
    first, second = unique_id("first"), unique_id("again")
    broker_client.submit_job(TitanJob(first, hello))
    broker_client.submit_job(TitanJob(second, hello, args="x"))
    assert sent == [[("hello.py", "content")], [("hello.py", "sha256")]]
    assert broker_client.wait(second, timeout=DEADLINE_S) == "COMPLETED"
    assert "hello from %s args ['x']" % second in broker_client.fetch_logs(second)


def test_a_hash_the_broker_does_not_have_is_resent_with_the_content(broker_client, hello, monkeypatch):
    with open(hello, "rb") as f:
        content = f.read()
    broker_client._sent_files[content] = "a" * 64  # as if accepted by another broker
    sent = _record_submits(broker_client, monkeypatch)
    job_id = unique_id("resent")
    broker_client.submit_job(TitanJob(job_id, hello))
    assert sent == [[("hello.py", "sha256")], [("hello.py", "content")]]
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
