# Job limits on a real cluster (docs/job-control.md, "Limits"): the worker enforces max_memory, max_cpu,
# cpu_cores and max_processes with its cgroups, reports the run's usage from their counters, ends a job its
# memory limit killed with the memory reason and keeps serving, and leaves no cgroup behind: not after
# many jobs, not after a kill -9 and restart; a worker without cgroups enforces cpu_cores only and refuses
# the other limits. Skipped, saying why, where the worker cannot write cgroups.
# Every wait has a deadline; no verdict depends on a sleep.
import fcntl
import os
import re
import threading
import time
import uuid
from pathlib import Path

import pytest

from cli import titan_ok
from cluster import Cluster, run_to_end, unique_id, wait_until, write_script
from titan_sdk import TitanClient, TitanJob

DEADLINE_S = 60
MB = 1024 * 1024
CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_HIERARCHIES = ("pids", "memory", "cpu", "cpuacct", "cpuset", "blkio")


def cgroup_limits_available():
    """What the worker needs for memory, cpu, cpuset and pids limits: root and cgroup v1 controllers (this
    suite checks v1's files; on v2 the worker needs a delegated subtree, which a test run rarely has)."""
    if os.geteuid() != 0:
        return False
    return all((CGROUP_ROOT / h / "cgroup.procs").exists() and os.access(CGROUP_ROOT / h, os.W_OK)
               for h in ("memory", "cpu", "cpuacct", "cpuset", "pids"))


SKIP_REASON = ("job limits need root and writable cgroup v1 memory, cpu, cpuacct, cpuset and pids hierarchies; "
               "without them the worker enforces only cpu_cores (docs/job-control.md; the last test checks that)")


def own_cgroup(pid, hierarchy):
    """The cgroup of process `pid` in the v1 hierarchy `hierarchy`."""
    for line in Path("/proc/%d/cgroup" % pid).read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if hierarchy in controllers.split(","):
            return path
    return "/"


def worker_key(cluster, name):
    """<name>-<hash of its data directory>, as the worker names its cgroup directory (WorkerCgroupKey): other
    clusters' workers of the same name (another test run on this machine) have other keys."""
    h = 1469598103934665603
    for c in os.path.normpath(os.path.abspath(str(cluster.root / name))).encode():
        h = ((h ^ c) * 1099511628211) & (2**64 - 1)
    return "%s-%08x" % (name, (h ^ (h >> 32)) & 0xFFFFFFFF)


def worker_dirs(cluster, name):
    """The worker's job cgroup directories, one per hierarchy (titan/<name>-<hash>)."""
    pid = cluster.workers[name].proc.pid
    dirs = []
    for h in V1_HIERARCHIES:
        d = CGROUP_ROOT / h / own_cgroup(pid, h).lstrip("/") / "titan" / worker_key(cluster, name)
        dirs += [d] if d.is_dir() else []
    return dirs


def all_job_cgroups(cluster, name):
    """Every cgroup under the worker's directories: jobs' own (<job>-<attempt>) and pooled ones (pool-<n>)."""
    return [c for d in worker_dirs(cluster, name) for c in d.iterdir() if c.is_dir()]


def job_cgroups(cluster, name):
    """The job cgroups in use (none once its jobs ended): a job's own, or a pooled one a process is in. An
    emptied pooled cgroup is kept for the next job without limits (worker/cgroup_pool.h)."""
    return [c for c in all_job_cgroups(cluster, name)
            if not c.name.startswith("pool-") or (c / "cgroup.procs").read_text().strip()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not cgroup_limits_available():
        pytest.skip(SKIP_REASON)
    c = Cluster(tmp_path_factory.mktemp("limits"), workers=[("lim1", [])]).start()
    yield c
    c.stop()


@pytest.fixture()
def client(cluster):
    with TitanClient(host="127.0.0.1", port=cluster.port) as c:
        yield c


run = run_to_end


def test_the_worker_reports_the_limits_it_enforces(client):
    workers = client.get_stats()["workers"]
    lim1 = [w for w in workers if w["name"] == "lim1"][0]
    assert lim1["controls"] == ["memory", "cpu", "cpuset", "io", "pids"]
    assert lim1["limits_via"] == "cgroup v1"


def test_a_job_over_its_memory_limit_fails_with_the_memory_reason_and_the_worker_serves_on(client, tmp_path):
    hog = write_script(tmp_path, "hog.py", """
        b = bytearray(200 * 1024 * 1024)
        for i in range(0, len(b), 4096):
            b[i] = 1
        print("allocated", len(b))
        """)
    info = run(client, TitanJob(unique_id("hog"), hog, max_memory=64))
    assert info.state == "FAILED"
    assert info.reason == "killed: memory limit 64 MB exceeded"
    assert info.max_memory == 64
    print("max_memory=64: %s, peak %d bytes, cpu %d ms" % (info.reason, info.usage.peak_memory_bytes, info.usage.cpu_ms))
    assert info.usage is not None and 16 * MB < info.usage.peak_memory_bytes <= 64 * MB
    ok = write_script(tmp_path, "ok.py", "print('fine')\n")
    after = run(client, TitanJob(unique_id("after-hog"), ok, max_memory=64))
    assert (after.state, after.worker) == ("COMPLETED", "lim1")


def test_a_busy_loop_with_max_cpu_25_gets_a_quarter_of_a_core(client, tmp_path):
    busy = write_script(tmp_path, "busy.py", """
        import time
        start = time.monotonic()
        while time.monotonic() - start < 5:
            pass
        print("wall_ms", int((time.monotonic() - start) * 1000))
        """)
    job = TitanJob(unique_id("busy"), busy, max_cpu=25)
    info = run(client, job)
    assert info.state == "COMPLETED", info.reason
    wall_ms = int(re.search(r"wall_ms (\d+)", client.fetch_logs(job.job_id)).group(1))
    cpu_ms = info.usage.cpu_ms  # the cgroup's own counter (cpuacct.usage)
    print("max_cpu=25: %d ms of CPU over %d ms: %.1f%% of a core" % (cpu_ms, wall_ms, 100.0 * cpu_ms / wall_ms))
    assert 0 < cpu_ms <= 0.30 * wall_ms


def test_cpu_cores_0_keeps_the_job_and_its_children_on_core_0(client, tmp_path):
    script = write_script(tmp_path, "where.sh", """
        grep Cpus_allowed_list /proc/self/status
        sh -c 'grep Cpus_allowed_list /proc/self/status'
        """)
    job = TitanJob(unique_id("pinned"), script, cpu_cores="0")
    info = run(client, job)
    assert info.state == "COMPLETED", info.reason
    assert info.cpu_cores == "0"
    assert re.findall(r"Cpus_allowed_list:\s*(\S+)", client.fetch_logs(job.job_id)) == ["0", "0"]


def test_max_processes_stops_a_fork_bomb_and_nothing_is_left(cluster, client, tmp_path):
    marker = "%d" % (uuid.uuid4().int % 10**9)
    bomb = write_script(tmp_path, "bomb.py", """
        import os, sys, time
        n = 0
        try:
            while n < 1000:
                if os.fork() == 0:
                    os.close(1); os.close(2)
                    os.execvp("sleep", ["sleep", "600.%s"])
                n += 1
        except OSError as e:
            print("forked", n, "then", e.strerror)
        """ % marker)
    job = TitanJob(unique_id("bomb"), bomb, max_processes=20)
    info = run(client, job)
    assert info.state == "COMPLETED", info.reason
    forked = int(re.search(r"forked (\d+) then", client.fetch_logs(job.job_id)).group(1))
    print("max_processes=20: the bomb forked %d before fork failed" % forked)
    assert forked < 20
    wait_until("the bomb's sleepers are gone", lambda: not sleepers(marker), DEADLINE_S)
    wait_until("its cgroups are removed", lambda: not job_cgroups(cluster, "lim1"), DEADLINE_S)


def sleepers(marker):
    found = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and marker.encode() in Path("/proc/%s/cmdline" % entry).read_bytes():
                found.append(int(entry))
        except OSError:
            pass
    return found


def test_usage_is_in_job_info_and_titan_status_shows_it(cluster, client, tmp_path):
    script = write_script(tmp_path, "writes.py", """
        import os
        with open("out.bin", "wb") as f:
            f.write(os.urandom(4 * 1024 * 1024))
            f.flush()
            os.fsync(f.fileno())
        print("done")
        """)
    job = TitanJob(unique_id("usage"), script, max_memory=128, max_cpu=150, max_processes=50)
    info = run(client, job)
    assert info.state == "COMPLETED", info.reason
    assert info.usage.peak_memory_bytes > 0 and info.usage.cpu_ms >= 0
    assert info.usage.io_read_bytes is not None and info.usage.io_write_bytes is not None
    status = titan_ok(cluster.port, ["status", job.job_id])
    assert "limits:     memory 128 MB, cpu 150% of a core, processes 50\n" in status, status
    assert re.search(r"usage:      peak memory [\d.]+ [KMG]iB, cpu [\d.]+ s, read .*, written .*\n", status), status


def test_no_cgroup_is_left_after_100_jobs(cluster, client, tmp_path):
    script = write_script(tmp_path, "tiny.sh", "echo $TITAN_JOB_ID\n")
    ids = [client.submit_job(TitanJob(unique_id("many"), script, max_memory=32, max_processes=10))
           for _ in range(100)]
    for job_id in ids:
        assert client.wait(job_id, timeout=DEADLINE_S * 3) == "COMPLETED"
    wait_until("no job cgroup left after 100 jobs", lambda: not job_cgroups(cluster, "lim1"), DEADLINE_S)
    assert len(worker_dirs(cluster, "lim1")) == len(V1_HIERARCHIES)


def test_jobs_without_limits_reuse_emptied_cgroups(cluster, client, tmp_path):
    """60 jobs without limits, at most 4 at once: they run in pooled cgroups (pool-<n>), which are reused, so
    no more of them exist than jobs ran at once, each empty once its job ended; each job's usage is its own."""
    script = write_script(tmp_path, "tiny.sh", "cat /proc/self/cgroup\n")
    ids = [client.submit_job(TitanJob(unique_id("pooled"), script)) for _ in range(60)]
    for job_id in ids:
        assert client.wait(job_id, timeout=DEADLINE_S * 3) == "COMPLETED"
    logs = client.fetch_logs(ids[-1])
    assert re.search(r":memory:/.*/pool-\d+$", logs, re.M), logs
    wait_until("the pooled cgroups are empty", lambda: not job_cgroups(cluster, "lim1"), DEADLINE_S)
    pooled = [c for c in all_job_cgroups(cluster, "lim1") if c.name.startswith("pool-")]
    names = {c.name for c in pooled}
    assert 1 <= len(names) <= 4, sorted(names)  # lim1 runs 4 jobs at once at most
    assert all(c.name.startswith("pool-") for c in all_job_cgroups(cluster, "lim1"))
    usage = client.get_job(ids[-1]).usage
    assert usage.peak_memory_bytes and usage.peak_memory_bytes < 64 * 1024 * 1024, usage


def start_long_job(client, tmp_path, prefix, **limits):
    """Submits a job that starts `sleep 600.<marker>` in the background and waits for it; returns (its id, the
    marker that names its sleeper: sleepers(marker))."""
    marker = "%d" % (uuid.uuid4().int % 10**9)
    started = tmp_path / "started"
    script = write_script(tmp_path, "long.sh", """
        sleep 600.%s &
        touch %s
        wait
        """ % (marker, started))
    job_id = client.submit_job(TitanJob(unique_id(prefix), script, **limits))
    wait_until("the job started", started.exists, DEADLINE_S)
    return job_id, marker


def test_no_cgroup_is_left_after_a_worker_kill_9_and_restart(cluster, client, tmp_path):
    job_id, marker = start_long_job(client, tmp_path, "long", max_memory=64, max_processes=10)
    assert job_cgroups(cluster, "lim1"), "the running job has its cgroups"
    old = sleepers(marker)
    assert old
    before = cluster.workers["lim1"].proc.pid
    cluster.crash_and_restart_worker("lim1")
    assert cluster.workers["lim1"].proc.pid != before
    wait_until("the killed worker's job processes are gone", lambda: not set(old) & set(sleepers(marker)), DEADLINE_S)
    first_run = job_id + "-1"  # <job>-<attempt>: the cgroups of the run the killed worker had
    wait_until("the killed run's cgroups are removed",
               lambda: first_run not in [c.name for c in job_cgroups(cluster, "lim1")], DEADLINE_S)
    # The job runs again on the new life (requeued); stop it and see everything go.
    client.stop_job(job_id)
    client.wait(job_id, timeout=DEADLINE_S)
    wait_until("no job cgroup left after kill -9, restart and stop",
               lambda: not job_cgroups(cluster, "lim1") and not sleepers(marker), DEADLINE_S)


def test_a_worker_restarted_while_its_dir_is_locked_waits_for_the_lock(cluster, client, tmp_path):
    """A killed worker's reaper holds <dir>/worker.lock while it ends what the worker left; a worker restarted
    meanwhile on the same --dir waits for it, or the sweep would remove the new life's job cgroups under it (its
    jobs then failed with "cannot create cgroup .../pool-N"). Here the test holds the lock once the reaper is
    done (worker/worker_reaper_test.cc covers the reaper's side: it sweeps nothing while a worker holds it)."""
    job_id, _ = start_long_job(client, tmp_path, "locked")
    killed = cluster.workers["lim1"].proc.pid
    cluster.workers["lim1"].kill9()
    reaper_log = cluster.root / "lim1" / "reaper.log"
    wait_until("the reaper ended the killed worker's job",
               lambda: "worker %d ended; ended 1 of its jobs" % killed in reaper_log.read_text(), DEADLINE_S)
    lock = open(cluster.root / "lim1" / "worker.lock", "a")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a reaper does while it sweeps
    restarted = threading.Thread(target=cluster.start_worker, args=("lim1",), daemon=True)
    restarted.start()
    log = cluster.root / "lim1.stderr.log"
    wait_until("the restarted worker waits for the lock",
               lambda: "waiting for '%s'" % lock.name in log.read_text(), DEADLINE_S)
    assert restarted.is_alive(), "it registered while the lock was held"
    lock.close()
    restarted.join(DEADLINE_S)
    assert not restarted.is_alive(), log.read_text()[-3000:]
    client.stop_job(job_id)  # requeued onto the new life
    client.wait(job_id, timeout=DEADLINE_S)
    quick = write_script(tmp_path, "quick.sh", "true\n")
    infos = [run(client, TitanJob(unique_id("after-lock"), quick)) for _ in range(3)]
    assert [i.state for i in infos] == ["COMPLETED"] * 3, [i.reason for i in infos]


def test_max_iobps_throttles_direct_reads(client, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(os.urandom(8 * MB))
    script = write_script(tmp_path, "read.sh", """
        dd if=%s of=/dev/null bs=1M count=8 iflag=direct 2>&1 | tail -1
        """ % data)
    job = TitanJob(unique_id("io"), script, max_iobps=4 * MB)
    start = time.monotonic()
    info = run(client, job)
    elapsed = time.monotonic() - start
    assert info.state == "COMPLETED", info.reason
    print("max_iobps=4 MiB/s: 8 MiB read (O_DIRECT) in %.1f s; dd: %s; usage read %d bytes"
          % (elapsed, client.fetch_logs(job.job_id).strip(), info.usage.io_read_bytes))
    assert info.usage.io_read_bytes >= 8 * MB  # the cgroup counted the reads at the disk
    assert elapsed >= 1.0  # 8 MiB at 4 MiB/s: about 2 s (the first second's budget passes at once)


def test_a_worker_without_cgroups_enforces_only_cpu_cores_and_refuses_the_rest(tmp_path):
    with Cluster(tmp_path, workers=[("nocg", ["--no-cgroups"])]) as c, \
            TitanClient(host="127.0.0.1", port=c.port) as client:
        nocg = [w for w in client.get_stats()["workers"] if w["name"] == "nocg"][0]
        assert (nocg["controls"], nocg["limits_via"]) == (["cpuset"], "rlimit")
        hog = write_script(tmp_path, "hog.py", "b = bytearray(8 * 1024 * 1024)\n")
        # Placement sends it to no worker that cannot enforce it: it waits, saying why, and never runs unlimited.
        hog_job = TitanJob(unique_id("nocg-hog"), hog, max_memory=64)
        client.submit_job(hog_job)
        waiting = client.get_job(hog_job.job_id)
        assert waiting.state == "QUEUED" and waiting.started_ms is None
        assert waiting.reason.startswith("no live worker with capability GENERAL enforces memory limits (max_memory)")
        assert client.stop_job(hog_job.job_id) == "CANCELLED"
        where = write_script(tmp_path, "where.sh", "sh -c 'grep Cpus_allowed_list /proc/self/status'\n")
        pinned = TitanJob(unique_id("nocg-pinned"), where, cpu_cores="0")
        info = run(client, pinned)
        assert info.state == "COMPLETED", info.reason
        assert re.findall(r"Cpus_allowed_list:\s*(\S+)", client.fetch_logs(pinned.job_id)) == ["0"]
        assert info.usage is None  # nothing counted it
