# A killed worker's reaper reports the runs whose processes exited before the worker could (worker/reaper_runs.h,
# worker/reaper_report.h): they end as they ended, on their first attempt, and run no second time. A run still
# running when its worker died may finish within the reaper's grace (one heartbeat), its output drained, and is
# reported the same way; one still running after that is ended, requeued and runs elsewhere, as before.
# The worker is stopped (SIGSTOP) while its jobs exit, so it cannot report them, then killed (kill -9): the
# order is forced, not raced. Every wait has a deadline; no verdict depends on a sleep.
import os
import platform
from pathlib import Path

import pytest

from cluster import Cluster, unique_id, wait_until, write_script
from titan_sdk import TitanClient, TitanJob

DEADLINE_S = 60


def kernel_keeps_exit_status():
    """Linux 6.15 keeps a reaped process's exit status for pidfds opened before (PIDFD_INFO_EXIT); an older
    kernel loses it once the dead worker's jobs are reaped by init, which then decides nothing."""
    try:
        major, minor = (int(x) for x in platform.release().split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (6, 15)


pytestmark = pytest.mark.skipif(not kernel_keeps_exit_status(), reason="needs Linux 6.15+ (PIDFD_INFO_EXIT)")

# Records its pid, waits for the test's go, records one completion and exits with the code it is given.
JOB = """
    echo $$ > "$1.pid"
    while [ ! -e "$1.go" ]; do sleep 0.01; done
    mktemp "$1.done.XXXXXX" > /dev/null
    exit "$2"
    """


def exited(pid_file):
    """True once the job's process (its pid in `pid_file`) has exited: a zombie its stopped worker has not
    waited for."""
    try:
        pid = int(Path(pid_file).read_text())
        stat = Path("/proc/%d/stat" % pid).read_text()
    except (OSError, ValueError):
        return False
    return stat[stat.rindex(")") + 2] == "Z"


def completions(base):
    return [p for p in os.listdir(os.path.dirname(base)) if p.startswith(os.path.basename(base) + ".done.")]


def test_runs_that_exited_before_their_worker_was_killed_end_as_they_ended_and_run_once(tmp_path):
    # A long liveness: the broker must not find the stopped worker gone before the test kills it.
    cluster = Cluster(tmp_path / "cluster", workers=[("w1", [])],
                      broker_args=["--heartbeat-ms", "1000", "--liveness", "60"]).start()
    try:
        script = write_script(tmp_path, "job.sh", JOB)
        marks = tmp_path / "marks"
        marks.mkdir()
        jobs = {"ok": 0, "bad": 3, "slow": 0}
        ids = {name: unique_id(name) for name in jobs}
        base = {name: str(marks / name) for name in jobs}
        with TitanClient(host="127.0.0.1", port=cluster.port) as client:
            for name, code in jobs.items():
                client.submit_job(TitanJob(ids[name], script, args="%s %d" % (base[name], code)))
            wait_until("the three jobs running", lambda: all(os.path.exists(base[n] + ".pid") for n in jobs),
                       DEADLINE_S)
            w1 = cluster.workers["w1"]
            w1.pause()
            for name in ("ok", "bad"):
                Path(base[name] + ".go").touch()
            wait_until("both jobs exited unreported", lambda: all(exited(base[n] + ".pid") for n in ("ok", "bad")),
                       DEADLINE_S)
            w1.kill9()  # "slow" waits for its go: ended by the reaper after its grace
            assert client.wait(ids["ok"], DEADLINE_S) == "COMPLETED"
            assert client.wait(ids["bad"], DEADLINE_S) == "FAILED"
            ok, bad = client.get_job(ids["ok"]), client.get_job(ids["bad"])
            assert (ok.attempt, ok.worker, ok.exit_code) == (1, "w1", 0), ok
            assert (bad.attempt, bad.exit_code) == (1, 3), bad
            assert ok.log_truncated and bad.log_truncated  # what w1 had not read of their output is not kept
            # The run that was still running is requeued; a new worker runs it to its end.
            Path(base["slow"] + ".go").touch()
            cluster.start_worker("w2")
            assert client.wait(ids["slow"], DEADLINE_S) == "COMPLETED"
            slow = client.get_job(ids["slow"])
            assert (slow.attempt, slow.worker) == (2, "w2"), slow
        for name in ("ok", "bad"):
            assert len(completions(base[name])) == 1, (name, completions(base[name]))
        reaper_log = (tmp_path / "cluster" / "w1" / "reaper.log").read_text()
        assert "reported 2 runs that ended before worker w1 could report them" in reaper_log, reaper_log
    finally:
        cluster.stop()


# Waits for the test's go, says it is writing, writes far more than a pipe holds (so it cannot finish while
# nobody reads its output), records one completion and exits 0. As a shell script (spawned), and as a Python
# script forked from the worker's warm interpreter (its parent-death signal is cleared after the worker's go).
LOUD_JOBS = {
    "sh": """
    echo $$ > "$1.pid"
    while [ ! -e "$1.go" ]; do sleep 0.01; done
    echo spawned > "$1.writing"
    head -c 4194304 /dev/zero
    mktemp "$1.done.XXXXXX" > /dev/null
    exit 0
    """,
    "py": """
    import os, sys, tempfile, time
    base, warm = sys.argv[1], "titan_sdk" in sys.modules  # imported before our first line: forked warm
    with open(base + ".pid", "w") as f:
        f.write(str(os.getpid()))
    while not os.path.exists(base + ".go"):
        time.sleep(0.01)
    with open(base + ".writing", "w") as f:
        f.write("warm" if warm else "cold")
    sys.stdout.buffer.write(b"x" * 4194304)
    sys.stdout.flush()
    os.close(tempfile.mkstemp(prefix=os.path.basename(base) + ".done.", dir=os.path.dirname(base))[0])
    """,
}
WARM_PROBE = 'import sys\nprint("WARM", "titan_sdk" in sys.modules)\n'


def until_warm(client, tmp_path):
    """Runs one-line .py jobs until one was forked warm (the worker starts its fork server at its start)."""
    probe = write_script(tmp_path, "probe.py", WARM_PROBE)

    def one():
        job_id = unique_id("probe")
        client.submit_job(TitanJob(job_id, probe))
        assert client.wait(job_id, DEADLINE_S) == "COMPLETED"
        return "WARM True" in client.fetch_logs(job_id)
    wait_until("a .py job forked warm", one, DEADLINE_S)


@pytest.mark.parametrize("kind", sorted(LOUD_JOBS))
def test_a_run_its_worker_dies_under_finishes_with_its_output_drained_and_runs_once(tmp_path, kind):
    cluster = Cluster(tmp_path / "cluster", workers=[("w1", [])],
                      broker_args=["--heartbeat-ms", "1000", "--liveness", "60"]).start()
    try:
        script = write_script(tmp_path, "loud." + kind, LOUD_JOBS[kind])
        base = str(tmp_path / "loud")
        job_id = unique_id("loud")
        with TitanClient(host="127.0.0.1", port=cluster.port) as client:
            if kind == "py":
                until_warm(client, tmp_path)
            client.submit_job(TitanJob(job_id, script, args=base))
            wait_until("the job running", lambda: os.path.exists(base + ".pid"), DEADLINE_S)
            w1 = cluster.workers["w1"]
            w1.pause()  # from here on nobody reads the job's output until the worker is gone
            Path(base + ".go").touch()
            wait_until("the job writing", lambda: os.path.exists(base + ".writing") and
                       Path(base + ".writing").read_text().strip(), DEADLINE_S)
            assert Path(base + ".writing").read_text().strip() == {"sh": "spawned", "py": "warm"}[kind]
            assert not exited(base + ".pid")  # its pipe is full: it cannot end while w1 lives
            w1.kill9()
            assert client.wait(job_id, DEADLINE_S) == "COMPLETED"
            job = client.get_job(job_id)
            assert (job.attempt, job.worker, job.exit_code) == (1, "w1", 0), job
            assert job.log_truncated  # what it wrote after w1 died was drained, not kept
        assert len(completions(base)) == 1, completions(base)
        reaper_log = (tmp_path / "cluster" / "w1" / "reaper.log").read_text()
        assert "reported 1 runs that ended before worker w1 could report them" in reaper_log, reaper_log
    finally:
        cluster.stop()
