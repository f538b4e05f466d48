# Faults on real processes: a worker or the broker stalled with SIGSTOP while jobs run. Each job appends a
# line to a file per run ("start <pid>" when it starts, "done" when it ends), so the verdicts count runs.
# Short heartbeats (500 ms: a worker silent 1.5 s is lost, its lease is 750 ms) keep the tests quick; every
# wait is on a condition with a deadline.
import os
import time
from pathlib import Path

import pytest

from cli import titan, titan_ok
from cluster import Cluster, unique_id, write_script
from conftest import client_of
from titan_sdk import TitanJob

HEARTBEAT_MS = 500
DEADLINE_S = 60
STALL_S = 3.0  # longer than the broker's lost-worker timeout (1.5 s), shorter than a worker's reconnect (5 s)


@pytest.fixture
def cluster(tmp_path):
    with Cluster(tmp_path / "cluster", broker_args=["--heartbeat-ms", str(HEARTBEAT_MS)]) as c:
        yield c


@pytest.fixture
def client(cluster, monkeypatch):
    with client_of(cluster, monkeypatch) as c:
        yield c


@pytest.fixture
def job(tmp_path):
    """A job script: records its start in the file named by its first argument, sleeps, records its end."""
    return write_script(tmp_path, "runs.sh", """
        echo "start $$" >> "$1"
        sleep "$2"
        echo done >> "$1"
    """)


def wait_until(predicate, what, deadline_s=DEADLINE_S):
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("not within %ds: %s" % (deadline_s, what))
        time.sleep(0.05)


def runs(path: Path):
    return path.read_text().split("\n")[:-1] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def started_pid(path: Path) -> int:
    wait_until(lambda: any(line.startswith("start") for line in runs(path)), "the job started")
    return int(runs(path)[0].split()[1])


def test_a_stop_is_lost_when_its_worker_is_declared_lost_first(cluster, client, job, tmp_path):
    record = tmp_path / "stop.runs"
    job_id = client.submit_job(TitanJob(unique_id("stop"), job, args="%s 60" % record))
    pid = started_pid(record)
    worker = cluster.workers[client.get_job(job_id).worker]
    worker.pause()  # it cannot confirm the stop
    try:
        client.stop_job(job_id)
        assert client.wait(job_id, timeout=DEADLINE_S) == "CANCELLED"
    finally:
        worker.resume()
    info = client.get_job(job_id)
    assert "stopped by request" in info.reason and info.worker in info.reason, info.reason
    wait_until(lambda: not alive(pid), "the stalled worker ended its copy")
    assert runs(record) == ["start %d" % pid]  # never run again, not even by the worker that came back
    assert client.get_job(job_id).state == "CANCELLED" and client.get_job(job_id).attempt == 1


def test_a_broker_stall_reruns_every_running_job(cluster, client, job, tmp_path):
    jobs = {unique_id("stall"): tmp_path / ("stall%d.runs" % i) for i in range(8)}
    for job_id, record in jobs.items():
        client.submit_job(TitanJob(job_id, job, args="%s 3" % record))
    for record in jobs.values():
        started_pid(record)
    cluster.broker.pause()
    time.sleep(STALL_S)  # the stall itself: the broker reads nothing for this long
    cluster.broker.resume()
    for job_id in jobs:
        assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED", cluster.stderr()
    for job_id, record in jobs.items():
        lines = runs(record)
        # Workers out of contact past their lease killed their copies (fencing) before any other started:
        # each job ran to its end exactly once, and no two copies overlapped.
        assert lines.count("done") == 1 and lines[-1] == "done", (job_id, lines)
    assert "missed 3 heartbeats" not in cluster.broker.stderr()  # the stall did not count against workers


@pytest.fixture
def default_cluster(tmp_path):
    """A cluster on the broker's default liveness and recovery grace (heartbeats every 500 ms: a worker is
    lost after 5 s of silence, its lease is 4.25 s)."""
    with Cluster(tmp_path / "default", broker_args=["--heartbeat-ms", str(HEARTBEAT_MS)],
                 quick_failure_detection=False) as c:
        yield c


def test_with_the_defaults_a_broker_stall_shorter_than_the_lease_costs_no_run(default_cluster, job, tmp_path,
                                                                               monkeypatch):
    with client_of(default_cluster, monkeypatch) as client:
        jobs = {unique_id("stall"): tmp_path / ("default%d.runs" % i) for i in range(4)}
        for job_id, record in jobs.items():
            client.submit_job(TitanJob(job_id, job, args="%s 4" % record))
        pids = {job_id: started_pid(record) for job_id, record in jobs.items()}
        default_cluster.broker.pause()
        time.sleep(STALL_S)  # the stall itself, shorter than the lease
        default_cluster.broker.resume()
        for job_id, record in jobs.items():
            assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED", default_cluster.stderr()
            assert runs(record) == ["start %d" % pids[job_id], "done"], (job_id, runs(record))
            assert client.get_job(job_id).attempt == 1


def test_with_the_defaults_a_broker_restart_adopts_the_running_jobs(default_cluster, job, tmp_path, monkeypatch):
    with client_of(default_cluster, monkeypatch) as client:
        record = tmp_path / "adopted.runs"
        job_id = client.submit_job(TitanJob(unique_id("adopted"), job, args="%s 8" % record))
        pid = started_pid(record)
    default_cluster.crash_and_restart_broker()
    with client_of(default_cluster, monkeypatch) as client:
        assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED", default_cluster.stderr()
        assert runs(record) == ["start %d" % pid, "done"]  # the same copy, never killed, never run again
        assert client.get_job(job_id).attempt == 1
        assert "titan: killed" not in client.fetch_logs(job_id)


def test_output_a_broker_restart_loses_is_marked_never_silent(default_cluster, tmp_path, monkeypatch):
    """A job printing through a broker crash: its log as the broker keeps it is whole, or says it is not."""
    record = tmp_path / "ticks.runs"
    ticker = write_script(tmp_path, "ticks.sh", """
        echo "start $$" >> "$1"
        i=0
        while [ $i -lt 150 ]; do echo "tick $i"; i=$((i+1)); sleep 0.02; done
        echo done >> "$1"
    """)
    with client_of(default_cluster, monkeypatch) as client:
        job_id = client.submit_job(TitanJob(unique_id("ticks"), ticker, args=str(record)))
        started_pid(record)
    default_cluster.crash_and_restart_broker()  # new worker port: the worker finds it again through HELLO
    with client_of(default_cluster, monkeypatch) as client:
        assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED", default_cluster.stderr()
        ticks = [int(line.split()[1]) for line in client.fetch_logs(job_id).splitlines() if line.startswith("tick")]
        whole = ticks == list(range(150))
        assert whole or client.get_job(job_id).log_truncated is True, (ticks[:5], len(ticks))
        assert sorted(set(ticks)) == ticks  # what was kept is in order, each line once


def fence(cluster, record: Path) -> int:
    """Once the job recording into `record` runs, stalls the broker until the job's worker killed it itself
    (fencing), then resumes the broker; returns the killed copy's pid."""
    pid = started_pid(record)
    cluster.broker.pause()
    try:
        wait_until(lambda: not alive(pid), "the worker killed its run after its lease", deadline_s=10)
    finally:
        cluster.broker.resume()
    return pid


def test_a_stalled_worker_keeps_running_jobs_that_were_given_away(cluster, client, job, tmp_path):
    record = tmp_path / "fenced.runs"
    job_id = client.submit_job(TitanJob(unique_id("fenced"), job, args="%s 2" % record))
    pid = fence(cluster, record)
    assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED", cluster.stderr()
    lines = runs(record)
    assert lines[0] == "start %d" % pid and lines[1:] == ["start %s" % lines[1].split()[1], "done"], lines
    assert "titan: killed: no contact with the broker for" in client.fetch_logs(job_id)
    assert client.get_job(job_id).attempt == 2


def test_on_worker_lost_fail_never_runs_a_job_twice(cluster, client, job, tmp_path):
    record = tmp_path / "once.runs"
    job_id = client.submit_job(TitanJob(unique_id("once"), job, args="%s 2" % record, on_worker_lost="fail"))
    pid = fence(cluster, record)
    assert client.wait(job_id, timeout=DEADLINE_S) == "FAILED"
    assert "worker lost; not retried by request" in client.get_job(job_id).reason
    assert runs(record) == ["start %d" % pid]


def test_titan_run_on_worker_lost_fail(cluster, client, job, tmp_path):
    refused = titan(cluster.port, ["run", "--on-worker-lost", "twice", job])
    assert refused.returncode != 0 and "requeue" in refused.stderr and "fail" in refused.stderr, refused.stderr
    record = tmp_path / "cli.runs"
    job_id = titan_ok(cluster.port, ["run", "--on-worker-lost", "fail", "--id", unique_id("cli"), job, "--",
                                     str(record), "2"]).strip()
    pid = fence(cluster, record)
    assert client.wait(job_id, timeout=DEADLINE_S) == "FAILED"
    assert runs(record) == ["start %d" % pid]
