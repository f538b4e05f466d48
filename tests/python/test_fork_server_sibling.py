# The fork server's one-fork start (sdk/python/titan_sdk/_fork_server.py, _SiblingFork): a job forked with
# clone(CLONE_PARENT) is its parent's sibling from the start (no intermediate process to wait for), and is a
# fork as fork(2) makes it: CPython's after-fork state and glibc's thread id (abort's SIGABRT reaches it).
# Each case runs in a fresh process (the "server"), whose parent (this test) must reap the job. The fallback
# where the one-fork start is unavailable (an intermediate forks the job and exits, the job is re-parented to
# the worker, a child subreaper) is run through the server's own _start in a harness playing the worker.
import os
import platform
import signal
import subprocess
import sys
import textwrap

import pytest

from titan_sdk._fork_server import _SiblingFork

one_fork = pytest.mark.skipif(
    sys.platform != "linux" or platform.machine() not in ("x86_64", "aarch64") or not _SiblingFork().available,
    reason="the one-fork start needs Linux (x86-64 or arm64) with glibc; elsewhere the server forks twice")

SERVER = textwrap.dedent("""
    import os, sys
    from titan_sdk._fork_server import _SiblingFork
    job = _SiblingFork().fork()
    if job == 0:
        r = os.read(0, 1)  # wait until the test has seen our pid
        exec(sys.argv[1])
        os._exit(0)
    print(job, flush=True)
    os._exit(0)  # the server leaves: the job is not its child
""")


def start(code, *args):
    """Runs SERVER with the job's `code` (and sys.argv[2:] = args); returns (the job's pid, the pipe that
    lets it go)."""
    r, w = os.pipe()
    server = subprocess.Popen([sys.executable, "-c", SERVER, code, *args], stdin=r, stdout=subprocess.PIPE,
                              text=True)
    os.close(r)
    job = int(server.stdout.readline())
    assert server.wait(timeout=30) == 0
    return job, w


def reap(job, w):
    os.write(w, b"1")
    os.close(w)
    pid, status = os.waitpid(job, 0)  # ECHILD if the job were not our child
    assert pid == job
    return status


@one_fork
def test_the_job_is_the_child_of_the_servers_parent():
    job, w = start("os._exit(5 if os.getppid() == int(sys.argv[2]) else 9)", str(os.getpid()))
    status = reap(job, w)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5


@one_fork
def test_abort_in_the_job_ends_it_with_sigabrt():
    status = reap(*start("os.abort()"))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT


@one_fork
def test_the_job_has_its_own_thread_ids_and_can_start_threads():
    code = ("import threading\n"
            "ok = [threading.get_native_id() == os.getpid()]\n"
            "t = threading.Thread(target=lambda: ok.append(threading.get_native_id() != os.getpid()))\n"
            "t.start(); t.join()\n"
            "os._exit(0 if all(ok) and len(ok) == 2 else 9)")
    status = reap(*start(code))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


# The worker's side of a launch, played by a harness process: a child subreaper that asks the server's _start
# (with the one-fork start off) for a job, gets its pid once the intermediate is gone, lets it go, reaps it.
HARNESS = textwrap.dedent("""
    import ctypes, os, socket, sys
    from titan_sdk import _fork_server as fs
    fs._SIBLING = None  # the fallback: an intermediate process
    ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    script, out = sys.argv[1], sys.argv[2]
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    go_job, go_ours = os.pipe()
    ctl, _ = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)  # the server's control socket
    req = {"argv": [sys.executable, script, "one", "two words"],
           "env": ["PATH=/usr/bin:/bin", "GREETING=hi", "EXPECT_PARENT=%d" % os.getpid()],
           "cwd": os.path.dirname(script), "cpus": [], "worker_pid": os.getpid(), "cgroups": []}
    job = fs._start(ctl, req, [null, log, log, go_job])
    for fd in (null, log, go_job):
        os.close(fd)
    os.write(go_ours, b"1")
    pid, status = os.waitpid(job, 0)  # ECHILD if the job were not ours
    print(os.waitstatus_to_exitcode(status))
""")


def test_without_the_one_fork_start_the_job_is_reparented_to_the_worker_and_runs_as_a_script(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("import os, sys\n"
                      "print(sys.argv[1:], os.environ['GREETING'], os.getcwd() == os.path.dirname(__file__),\n"
                      "      os.getppid() == int(os.environ['EXPECT_PARENT']), __name__)\n"
                      "sys.exit(4)\n")
    out = tmp_path / "out.txt"
    done = subprocess.run([sys.executable, "-c", HARNESS, str(script), str(out)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "4", (done.stdout, done.stderr)
    assert out.read_text() == "['one', 'two words'] hi True True __main__\n", out.read_text()
