# Warm Python jobs on a real cluster (docs/job-control.md, "Warm Python jobs"): a .py job forked from the
# worker's warm interpreter cannot tell it from a cold `python script.py` (argv, environment, cwd, __main__,
# sys.path, signal dispositions and mask, rlimits, cgroups, process group, stdio, open descriptors), ends
# the same way (exit codes, uncaught exceptions, sys.exit, os._exit, signals, KeyboardInterrupt), keeps
# its output's order, is stopped by stop_job and held to its memory limit; cold_start and --cold-python
# opt out; a fork server killed with SIGKILL is replaced and no job hangs.
# A job proves it ran warm by finding titan_sdk imported before its first line (the server imported it).
# Every wait has a deadline; no verdict depends on a sleep.
import json
import os
import signal
from pathlib import Path

import pytest

from cluster import Cluster, run_to_end, unique_id, wait_until, write_script
from titan_sdk import TitanClient, TitanJob

DEADLINE_S = 60

PROBE = r"""
import json, os, resource, signal, sys
preloaded = "titan_sdk" in sys.modules
job_dir = os.environ["TITAN_JOB_DIR"]
job_id = os.environ["TITAN_JOB_ID"]

def per_job(text):
    return text.replace(job_dir, "<job_dir>").replace(job_id, "<job>")

def cgroups():
    try:
        return [per_job(line) for line in open("/proc/self/cgroup").read().splitlines()]
    except OSError:
        return []

def rlimits():
    return {name: resource.getrlimit(getattr(resource, name)) for name in dir(resource) if name.startswith("RLIMIT_")}

fds = sorted(int(fd) for fd in os.listdir("/proc/self/fd"))
parent = open("/proc/%d/cmdline" % os.getppid(), "rb").read().split(b"\0")
facts = {
    "argv": sys.argv[1:],
    "argv0": per_job(sys.argv[0]),
    "file": per_job(__file__),
    "name": __name__,
    "spec": repr(__spec__),
    "path0_is_script_dir": sys.path[0] == os.path.dirname(os.path.realpath(__file__)),
    "path_rest": sys.path[1:],
    "cwd": per_job(os.getcwd()),
    "env": {k: per_job(v) for k, v in os.environ.items() if k not in ("TITAN_JOB_ID", "TITAN_JOB_DIR", "TITAN_CREDENTIALS")},
    "signals": {n: str(signal.getsignal(n)) for n in range(1, signal.NSIG) if n not in (signal.SIGKILL, signal.SIGSTOP)
                and n < signal.SIGRTMIN},
    "mask": sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, [])),
    "rlimits": rlimits(),
    "cgroup": cgroups(),
    "own_group": os.getpgid(0) == os.getpid(),
    "session_of_parent": os.getsid(0) == os.getsid(os.getppid()),
    "parent_is_worker": b"worker" in parent,
    "affinity": sorted(os.sched_getaffinity(0)),
    "umask": os.umask(0o22),
    "fds": fds[:3] + (["more"] if len(fds) > 4 else []),
    "stdin": sys.stdin.read(),
    "stdio": [(f.name, f.mode, f.encoding, f.errors, f.line_buffering, f.write_through, f.isatty(), f.seekable(),
               type(f.buffer).__name__)
              for f in (sys.stdin, sys.stdout, sys.stderr)],
    "flags": str(sys.flags),
    "main_keys": sorted(k for k in globals() if k.startswith("__")),
    "orig_argv_tail": [per_job(a) for a in sys.orig_argv[1:]] if hasattr(sys, "orig_argv") else None,
}
facts["argv0"] = os.path.basename(facts["argv0"])

def child_env():  # what a program the job runs gets: the C environment, not only os.environ
    import subprocess
    out = subprocess.run(["/usr/bin/env", "-0"], stdout=subprocess.PIPE, check=True).stdout.decode()
    return sorted(per_job(kv) for kv in out.split("\0") if kv and not kv.startswith(("TITAN_JOB_ID=", "TITAN_JOB_DIR=", "TITAN_CREDENTIALS=", "_=")))

facts["child_env"] = child_env()
os.environ["PROBE_ADDED"] = "1"
os.environ.pop("GREETING", None)
facts["child_env_after_changes"] = child_env()
facts["getenv_after_changes"] = [os.getenv("PROBE_ADDED"), os.getenv("GREETING")]
print("PRELOADED", preloaded)
print("FACTS " + json.dumps(facts, sort_keys=True))
"""


WARM, COLD = "WARM_SIDE", "COLD_SIDE"  # worker tags: warm1 forks .py jobs, cold1 runs --cold-python


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("warm"),
                workers=[("warm1", ["--tag", WARM]), ("cold1", ["--tag", COLD, "--cold-python"])]).start()
    yield c
    c.stop()


@pytest.fixture()
def client(cluster):
    with TitanClient(host="127.0.0.1", port=cluster.port) as c:
        yield c


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    return tmp_path_factory.mktemp("scripts")


run = run_to_end


def ran_warm(client, job_id):
    logs = client.fetch_logs(job_id)
    assert "PRELOADED" in logs, logs
    return "PRELOADED True" in logs


def warm_up(client, scripts):
    """Runs probes on warm1 until one runs warm (the first start the fork server and run cold)."""
    probe = write_script(scripts, "probe.py", PROBE)

    def one():
        job = TitanJob(unique_id("warmup"), probe, requirement=WARM)
        info = run(client, job)
        assert info.state == "COMPLETED", info.reason
        return ran_warm(client, job.job_id)
    wait_until("a job forked from the warm interpreter", one, DEADLINE_S)


def both(client, script, warm_up_first=True, **kw):
    """Runs `script` on warm1 warm and cold (cold_start=True); returns the two (JobInfo, logs, id)."""
    out = []
    for cold in (False, True):
        job = TitanJob(unique_id("cold" if cold else "warm"), script, requirement=WARM, cold_start=cold, **kw)
        info = run(client, job)
        out.append((info, client.fetch_logs(job.job_id), job.job_id))
    return out


def facts_of(logs):
    line = [l for l in logs.splitlines() if l.startswith("FACTS ")]
    assert line, logs
    return json.loads(line[0][len("FACTS "):])


def test_a_warm_job_sees_exactly_what_a_cold_one_does(client, scripts):
    warm_up(client, scripts)
    probe = write_script(scripts, "probe.py", PROBE)
    (warm, warm_logs, _), (cold, cold_logs, _) = both(
        client, probe, args="one 'two words'", env={"GREETING": "hi"}, secret_env={"TOKEN": "s3cr3t-v4lue"})
    assert (warm.state, cold.state) == ("COMPLETED", "COMPLETED"), (warm.reason, cold.reason)
    assert "PRELOADED True" in warm_logs and "PRELOADED False" in cold_logs
    w, c = facts_of(warm_logs), facts_of(cold_logs)
    for key in sorted(set(w) | set(c)):
        assert w.get(key) == c.get(key), "%s differs: warm %r, cold %r" % (key, w.get(key), c.get(key))
    assert w["argv"] == ["one", "two words"] and w["name"] == "__main__" and w["env"]["GREETING"] == "hi"
    assert "GREETING=hi" in w["child_env"] and "GREETING=hi" not in w["child_env_after_changes"]
    assert "PROBE_ADDED=1" in w["child_env_after_changes"] and w["getenv_after_changes"] == ["1", None]
    assert w["own_group"] and w["parent_is_worker"] and w["path0_is_script_dir"]
    assert w["signals"][str(int(signal.SIGINT))] == str(signal.default_int_handler)
    assert "s3cr3t-v4lue" not in warm_logs  # masked in its log, as cold


EXITS = {
    "zero": "print('ok')\n",
    "three": "import sys\nsys.exit(3)\n",
    "message": "import sys\nsys.exit('bad input')\n",
    "raises": "def f():\n    raise ValueError('boom')\nf()\n",
    "os_exit": "import os\nos._exit(7)\n",
    "sigkill": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
    "sigterm": "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n",
    "interrupt": "raise KeyboardInterrupt\n",
    "sigint": "import os, signal, time\nos.kill(os.getpid(), signal.SIGINT)\ntime.sleep(5)\n",
    "syntax": "def (:\n",
    "thread": "import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print('late'))).start()\n",
    "atexit": "import atexit\natexit.register(lambda: print('bye'))\nprint('hi')\n",
    "finalizer": "class A:\n    def __del__(self):\n        print('del ran')\na = A()\nprint('hi')\n",
    "big_code": "import sys\nsys.exit(300)\n",
    # abort(3) raises SIGABRT at the calling thread by its id, which a fork must have set in the child.
    "abort": "import os\nos.abort()\n",
    "thread_ids": "import os, threading\nprint(threading.get_native_id() == os.getpid(), threading.main_thread().native_id == os.getpid())\n",
}


@pytest.mark.parametrize("case", sorted(EXITS))
def test_a_warm_job_ends_as_a_cold_one_does(client, scripts, case):
    warm_up(client, scripts)
    script = write_script(scripts, "exit_%s.py" % case, EXITS[case])
    (warm, warm_logs, wid), (cold, cold_logs, cid) = both(client, script)
    assert (warm.state, warm.reason) == (cold.state, cold.reason), (warm_logs, cold_logs)
    assert warm_logs.replace(wid, "<job>") == cold_logs.replace(cid, "<job>")
    if case == "raises":
        assert warm.reason == "exit code 1" and "Traceback (most recent call last)" in warm_logs
        assert "ValueError: boom" in warm_logs and "_fork_server" not in warm_logs
    if case in ("sigkill", "sigterm", "interrupt", "sigint", "abort"):
        assert "SIG" in warm.reason, warm.reason
    if case == "abort":
        assert "SIGABRT" in warm.reason, warm.reason
    if case == "thread_ids":
        assert "True True" in warm_logs, warm_logs


def test_interleaved_output_keeps_its_order(client, scripts):
    warm_up(client, scripts)
    script = write_script(scripts, "interleave.py", """
        import sys
        for i in range(200):
            print("out", i)
            print("err", i, file=sys.stderr)
            sys.stdout.write("partial %d " % i)
            sys.stdout.write("done\\n")
        """)
    (warm, warm_logs, _), (cold, cold_logs, _) = both(client, script)
    assert warm.state == cold.state == "COMPLETED"
    # Each stream is its own pipe, so only the order within a stream is defined (warm or cold).
    for stream in (lambda line: line.startswith("err "), lambda line: not line.startswith("err ")):
        warm_lines = [line for line in warm_logs.splitlines() if stream(line)]
        assert warm_lines == [line for line in cold_logs.splitlines() if stream(line)]
    stdout = [line for line in warm_logs.splitlines() if not line.startswith("err ")]
    assert stdout == [line for i in range(200) for line in ("out %d" % i, "partial %d done" % i)]
    assert [line for line in warm_logs.splitlines() if line.startswith("err ")] == ["err %d" % i for i in range(200)]


def test_stop_job_kills_a_warm_job(client, scripts):
    warm_up(client, scripts)
    script = write_script(scripts, "sleeper.py", """
        import sys, time
        print("PRELOADED", "titan_sdk" in sys.modules, flush=True)
        time.sleep(600)
        """)
    job = TitanJob(unique_id("stop"), script, requirement=WARM)
    client.submit_job(job)
    wait_until("the sleeper runs", lambda: "PRELOADED" in client.fetch_logs(job.job_id), DEADLINE_S)
    assert ran_warm(client, job.job_id)
    client.stop_job(job.job_id)
    state = client.wait(job.job_id, timeout=DEADLINE_S)
    assert state in ("CANCELLED", "FAILED"), state


def test_a_job_or_a_worker_can_ask_for_cold(client, scripts):
    probe = write_script(scripts, "probe.py", PROBE)
    for _ in range(3):  # never warm, however many run
        job = TitanJob(unique_id("coldworker"), probe, requirement=COLD)
        assert run(client, job).state == "COMPLETED"
        assert not ran_warm(client, job.job_id)
    warm_up(client, scripts)
    job = TitanJob(unique_id("coldjob"), probe, requirement=WARM, cold_start=True)
    assert run(client, job).state == "COMPLETED"
    assert not ran_warm(client, job.job_id)


def fork_servers(worker_pid):
    """The pids of the worker's fork servers (its children running titan_sdk._fork_server)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            if not entry.isdigit():
                continue
            if b"titan_sdk._fork_server" not in Path("/proc/%s/cmdline" % entry).read_bytes():
                continue
            stat = Path("/proc/%s/stat" % entry).read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) == worker_pid:
                found.append(int(entry))
        except (OSError, ValueError):
            pass
    return found


def test_a_worker_starts_its_fork_server_before_its_first_python_job(tmp_path, scripts):
    """The default interpreter's server is started with the worker (not by its first .py job), for the
    environment a plain job gets: the first job run once it is up is forked from it, and no second server
    is started. A --cold-python worker and a no-op worker start none."""
    c = Cluster(tmp_path, workers=[("fresh", ["--tag", "FRESH"]), ("coldw", ["--cold-python"]),
                                   ("noopw", ["--executor", "noop"])]).start()
    try:
        fresh = c.workers["fresh"].proc.pid
        wait_until("the fresh worker's fork server", lambda: len(fork_servers(fresh)) == 1, DEADLINE_S)
        server = fork_servers(fresh)[0]
        assert fork_servers(c.workers["coldw"].proc.pid) == []
        assert fork_servers(c.workers["noopw"].proc.pid) == []
        probe = write_script(scripts, "probe.py", PROBE)
        with TitanClient(host="127.0.0.1", port=c.port) as client:
            def one_runs_warm():
                job = TitanJob(unique_id("first"), probe, requirement="FRESH", env={"GREETING": "hi"})
                info = run(client, job)
                assert info.state == "COMPLETED", info.reason
                return ran_warm(client, job.job_id)
            wait_until("a job forked from the server started with the worker", one_runs_warm, DEADLINE_S)
        assert fork_servers(fresh) == [server]
    finally:
        c.stop()


def test_a_killed_fork_server_is_replaced_and_no_job_hangs(cluster, client, scripts):
    warm_up(client, scripts)
    worker = cluster.workers["warm1"].proc.pid
    servers = fork_servers(worker)
    assert len(servers) == 1, servers
    os.kill(servers[0], signal.SIGKILL)
    probe = write_script(scripts, "probe.py", PROBE)
    job = TitanJob(unique_id("after-kill"), probe, requirement=WARM)
    assert run(client, job).state == "COMPLETED"  # cold, or warm from a new server
    warm_up(client, scripts)
    assert fork_servers(worker) and servers[0] not in fork_servers(worker)


def test_a_warm_job_joins_its_cgroups_and_is_held_to_its_memory_limit(cluster, client, scripts):
    if os.geteuid() != 0 or not os.access("/sys/fs/cgroup/memory", os.W_OK):
        pytest.skip("memory limits need root and a writable cgroup v1 memory hierarchy")
    warm_up(client, scripts)
    hog = write_script(scripts, "hog.py", """
        import sys
        print("PRELOADED", "titan_sdk" in sys.modules, flush=True)
        print([l for l in open("/proc/self/cgroup").read().splitlines() if ":memory:" in l], flush=True)
        b = bytearray(200 * 1024 * 1024)
        for i in range(0, len(b), 4096):
            b[i] = 1
        print("allocated", len(b))
        """)
    job = TitanJob(unique_id("hog"), hog, requirement=WARM, max_memory=64)
    info = run(client, job)
    logs = client.fetch_logs(job.job_id)
    assert "PRELOADED True" in logs, logs
    assert job.job_id in logs  # its memory cgroup is the job's own (<job>-<attempt>)
    assert (info.state, info.reason) == ("FAILED", "killed: memory limit 64 MB exceeded"), logs
