# A full disk, on real processes: the broker, the store or a worker keeps its data on a tiny tmpfs the
# test fills (tiny_disk.py; skipped where it cannot be mounted). The broker no longer stops: it refuses
# new work with UNAVAILABLE naming its folder, keeps serving reads and resumes by itself once space
# returns, and it starts on a full disk; the store refuses writes and serves reads the same way; a job
# whose output a full disk cut shows "log truncated". Waits poll with a deadline; none sleeps for a verdict.
from pathlib import Path

import pytest

from cli import titan_ok
from cluster import BROKER_READY_RE, Cluster, unique_id, write_script
from cluster import wait_until as until
from node_process import NodeProcess
from store_process import StoreProcess
from tiny_disk import tiny_disk
from titan_sdk import TitanClient, TitanJob, UnavailableError

DEADLINE_S = 60


def read_only(client):
    return bool(client.get_stats().get("read_only"))


def restart_broker(cluster, crash):
    """The broker stops (SIGTERM, or SIGKILL with `crash`) and starts again on its folder and client port."""
    port = cluster.port
    cluster.broker.kill9() if crash else cluster.broker.stop()
    args = list(cluster.broker.args)
    args[args.index("--port") + 1] = str(port)
    cluster.broker = NodeProcess("broker", args, BROKER_READY_RE, cluster.root / "broker.stderr.log").start()


@pytest.fixture
def broker_disk(tmp_path):
    """A cluster (store, broker, worker w1) whose broker keeps its folder on a tiny disk."""
    disk = tiny_disk(tmp_path / "broker")
    cluster = Cluster(tmp_path, workers=[("w1", [])])
    try:
        yield cluster.start(), disk
    finally:
        cluster.stop()
        disk.unmount()


@pytest.fixture
def hello(tmp_path):
    return write_script(tmp_path, "hello.sh", "echo hello from $TITAN_JOB_ID\n")


def run(client, script, prefix, args=None):
    job_id = unique_id(prefix)
    client.submit_job(TitanJob(job_id, script, args=args))
    return job_id


def assert_refused_for_disk(error, node, disk):
    assert "disk full on the %s (%s)" % (node, disk.path) in str(error), str(error)
    assert "free space there, Titan resumes by itself" in str(error), str(error)


def test_a_full_disk_stops_the_broker(broker_disk, hello):
    cluster, disk = broker_disk
    with TitanClient(port=cluster.port, timeout=10) as c:
        before = run(c, hello, "before")
        assert c.wait(before, timeout=DEADLINE_S) == "COMPLETED"
        disk.fill()
        with pytest.raises(UnavailableError) as refused:
            run(c, hello, "during")
        assert_refused_for_disk(refused.value, "broker", disk)
        # Reads are served from memory, and the broker says why it refuses.
        assert c.get_job_status(before) == "COMPLETED"
        assert "hello from %s" % before in c.fetch_logs(before)
        assert before in [j.id for j in c.list_jobs()]
        stats = c.get_stats()
        assert stats["read_only"] is True and str(disk.path) in stats["read_only_reason"], stats
        assert "READ-ONLY since" in titan_ok(cluster.port, ["stats"])
        assert cluster.broker.proc.poll() is None, "the broker exited:\n" + cluster.stderr()
        disk.free()
        until("the broker leaves read-only mode", lambda: not read_only(c))
        after = run(c, hello, "after")
        assert c.wait(after, timeout=DEADLINE_S) == "COMPLETED", cluster.stderr()
    log = (cluster.root / "broker.stderr.log").read_text()
    assert log.count("read-only from now") == 1 and log.count("space is back in") == 1, log


@pytest.mark.parametrize("crash", [False, True], ids=["stopped", "crashed"])
def test_a_broker_restarted_on_a_full_disk_starts_read_only(broker_disk, hello, crash):
    cluster, disk = broker_disk
    with TitanClient(port=cluster.port, timeout=10) as c:
        before = run(c, hello, "before")
        assert c.wait(before, timeout=DEADLINE_S) == "COMPLETED"
    disk.fill()
    restart_broker(cluster, crash)
    with TitanClient(port=cluster.port, timeout=10) as c:
        assert read_only(c)
        assert c.get_job_status(before) == "COMPLETED"
        with pytest.raises(UnavailableError) as refused:
            run(c, hello, "during")
        assert_refused_for_disk(refused.value, "broker", disk)
        disk.free()
        until("the broker leaves read-only mode", lambda: not read_only(c))
        after = run(c, hello, "after")
        assert c.wait(after, timeout=DEADLINE_S) == "COMPLETED", cluster.stderr()


def test_a_job_whose_output_fills_the_brokers_disk_shows_log_truncated(broker_disk, tmp_path):
    cluster, disk = broker_disk
    go = tmp_path / "go"
    chatty = write_script(tmp_path, "chatty.py", """
        import os, sys, time
        deadline = time.monotonic() + 60
        while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
            time.sleep(0.02)
        for _ in range(2048):  # 2 MiB: more than the broker's disk has left
            sys.stdout.write("y" * 1023 + "\\n")
    """)
    with TitanClient(port=cluster.port, timeout=10) as c:
        job = run(c, chatty, "chatty", args=str(go))
        until("the job runs", lambda: c.get_job_status(job) == "RUNNING")
        disk.fill()
        go.touch()
        until("the broker turns read-only", lambda: read_only(c))
        disk.free()
        assert c.wait(job, timeout=DEADLINE_S) == "COMPLETED", cluster.stderr()
        assert c.get_job(job).log_truncated is True
    assert "log truncated" in titan_ok(cluster.port, ["status", job])


def test_a_job_whose_output_fills_its_workers_disk_shows_log_truncated(tmp_path):
    disk = tiny_disk(tmp_path / "w1")  # the worker's workspace: the job's folder and its job.log
    cluster = Cluster(tmp_path, workers=[("w1", [])])
    try:
        cluster.start()
        chatty = write_script(tmp_path, "chatty.py", """
            import sys
            for _ in range(6 * 1024):  # 6 MiB: more than the worker's disk holds
                sys.stdout.write("x" * 1023 + "\\n")
        """)
        with TitanClient(port=cluster.port, timeout=10) as c:
            quiet = run(c, write_script(tmp_path, "quiet.sh", "echo fine\n"), "quiet")
            assert c.wait(quiet, timeout=DEADLINE_S) == "COMPLETED"
            assert c.get_job(quiet).log_truncated is None
            job = run(c, chatty, "chatty")
            assert c.wait(job, timeout=DEADLINE_S) == "COMPLETED", cluster.stderr()
            info = c.get_job(job)
            assert info.log_truncated is True and info.exit_code == 0
            assert len(c.fetch_logs(job)) == 6 * 1024 * 1024, "the broker's copy is whole"
        status = titan_ok(cluster.port, ["status", job])
        assert "COMPLETED" in status and "log truncated" in status, status
    finally:
        cluster.stop()
        disk.unmount()


def put_ok(client, key, value):
    try:
        client.store_put(key, value)
        return True
    except UnavailableError:
        return False


def test_a_full_disk_stops_the_stores_writes_but_not_its_reads(tmp_path):
    disk = tiny_disk(tmp_path / "store")
    store = StoreProcess(Path(disk.path)).start()
    try:
        with TitanClient(port=store.port, timeout=10) as c:
            c.store_put("before", "1")
            disk.fill()
            with pytest.raises(UnavailableError) as refused:
                c.store_put("during", "x" * 100_000)
            assert_refused_for_disk(refused.value, "store", disk)
            assert c.store_get("before") == "1"
            with pytest.raises(UnavailableError):  # refused at once while read-only
                c.store_put("small", "1")
            disk.free()
            until("the store takes writes again", lambda: put_ok(c, "after", "2"))
            assert (c.store_get("during"), c.store_get("after")) == (None, "2")
        disk.fill()
        store.stop()
        store = StoreProcess(Path(disk.path)).start()  # on a full disk: read-only from the start
        with TitanClient(port=store.port, timeout=10) as c:
            assert c.store_get("after") == "2"
            with pytest.raises(UnavailableError) as refused:
                c.store_put("during", "3")
            assert_refused_for_disk(refused.value, "store", disk)
            disk.free()
            until("the store takes writes again", lambda: put_ok(c, "during", "3"))
            assert c.store_get("during") == "3"
    finally:
        store.stop()
        disk.unmount()
