# What a job or a node starts does not outlive the process responsible for it, on real processes: a
# killed worker's jobs (their whole process group) die with it, `titan up`'s nodes die with a killed
# `titan up`, and processes a job detaches with setsid end with the job (by its cgroup). Each test
# polls /proc against a deadline; none sleeps for a verdict. Whatever a failing test left is killed.
import os
import signal
import socket
import time
import uuid
from pathlib import Path

import pytest

from cluster import Cluster, unique_id, write_script
from test_titan_up_keys import start_up, stop_up
from titan_sdk import TitanClient, TitanJob

DEADLINE_S = 20


def alive(pid):
    """True while `pid` runs (a zombie has ended)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def pids_with(marker):
    """Live processes whose command line contains `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if marker.encode() in f.read() and alive(int(entry)):
                    found.append(int(entry))
        except OSError:
            pass
    return found


def wait_until(condition, what):
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "still not true after %d s: %s" % (DEADLINE_S, what)
        time.sleep(0.05)  # polling interval, not a verdict


def kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def cgroups_writable():
    """As the worker decides (worker/job_cgroup.cc): a cgroup v2 mount, or v1's pids hierarchy, it may write."""
    root = Path("/sys/fs/cgroup")
    v1 = root / "pids"
    if os.geteuid() != 0:
        return False
    if (root / "cgroup.controllers").exists():
        return os.access(root, os.W_OK)
    return (v1 / "cgroup.procs").exists() and os.access(v1, os.W_OK)


def test_job_processes_outlive_a_killed_worker(tmp_path):
    marker = "1000.%d" % (uuid.uuid4().int % 10**9)
    pids_file = tmp_path / "pids"
    script = write_script(tmp_path, "parent.sh", """
        sleep %s &
        echo "$$ $!" > %s.tmp && mv %s.tmp %s
        wait
        """ % (marker, pids_file, pids_file, pids_file))
    cluster = Cluster(tmp_path, workers=[("lt1", [])]).start()
    pids = []
    try:
        with TitanClient(host="127.0.0.1", port=cluster.port) as client:
            client.submit_job(TitanJob(unique_id("outlive"), script))
        wait_until(pids_file.exists, "the job wrote its pids")
        pids = [int(p) for p in pids_file.read_text().split()]
        assert all(alive(p) for p in pids)
        cluster.workers["lt1"].kill9()
        wait_until(lambda: not any(alive(p) for p in pids),
                   "job %d and its child %d are gone after the worker's kill -9" % tuple(pids))
    finally:
        kill_all(pids)
        cluster.stop()


def free_port_block(n=4):
    """A port P with P..P+n-1 free now (titan up binds --port and the next three)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        try:
            socks = [socket.socket() for _ in range(n)]
            for i, sock in enumerate(socks):
                sock.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            pass
        finally:
            for sock in socks:
                sock.close()
    pytest.fail("no block of %d free ports" % n)


def test_titan_up_killed_with_sigkill_leaves_its_nodes_running(tmp_path):
    data = tmp_path / "data"
    port = free_port_block()
    proc, _, _ = start_up(data, tmp_path / "home", port=port)
    nodes = pids_with(str(data))
    try:
        assert len(nodes) >= 3, "store, broker and worker run with %s in their command line" % data
        proc.kill()
        proc.wait(DEADLINE_S)
        wait_until(lambda: not pids_with(str(data)), "no node of the killed titan up runs: %s" % pids_with(str(data)))
        again, again_port, _ = start_up(data, tmp_path / "home", port=port)
        assert again_port == port
        stop_up(again)
    finally:
        kill_all(pids_with(str(data)))


@pytest.mark.skipif(not cgroups_writable(),
                    reason="job cgroups need root and a writable cgroup v2 or v1 pids hierarchy; without them "
                           "setsid escapes are a documented limit (docs/operations.md)")
def test_processes_that_call_setsid_escape_job_cleanup(tmp_path):
    marker = "1000.%d" % (uuid.uuid4().int % 10**9)
    script = write_script(tmp_path, "escape.sh", """
        for i in $(seq 20); do setsid sleep %s >/dev/null 2>&1 & done
        while [ "$(pgrep -fc 'sleep %s')" -lt 20 ]; do :; done
        """ % (marker, marker))
    cluster = Cluster(tmp_path, workers=[("sid1", [])]).start()
    try:
        with TitanClient(host="127.0.0.1", port=cluster.port) as client:
            job = client.submit_job(TitanJob(unique_id("setsid"), script))
            assert client.wait(job, timeout=DEADLINE_S) == "COMPLETED"
        wait_until(lambda: not pids_with(marker), "no setsid'd sleep outlives the job: %s" % pids_with(marker))
    finally:
        kill_all(pids_with(marker))
        cluster.stop()
