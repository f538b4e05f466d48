# The fork server's one-fork start (sdk/python/titan_sdk/_fork_server.py, _SiblingFork): a job forked with
# clone(CLONE_PARENT) is its parent's sibling from the start (no intermediate process to wait for), and is a
# fork as fork(2) makes it: CPython's after-fork state and glibc's thread id (abort's SIGABRT reaches it).
# Each case runs in a fresh process (the "server"), whose parent (this test) must reap the job.
import os
import platform
import signal
import subprocess
import sys
import textwrap

import pytest

from titan_sdk._fork_server import _SiblingFork

pytestmark = pytest.mark.skipif(
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


def test_the_job_is_the_child_of_the_servers_parent():
    job, w = start("os._exit(5 if os.getppid() == int(sys.argv[2]) else 9)", str(os.getpid()))
    status = reap(job, w)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5


def test_abort_in_the_job_ends_it_with_sigabrt():
    status = reap(*start("os.abort()"))
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGABRT


def test_the_job_has_its_own_thread_ids_and_can_start_threads():
    code = ("import threading\n"
            "ok = [threading.get_native_id() == os.getpid()]\n"
            "t = threading.Thread(target=lambda: ok.append(threading.get_native_id() != os.getpid()))\n"
            "t.start(); t.join()\n"
            "os._exit(0 if all(ok) and len(ok) == 2 else 9)")
    status = reap(*start(code))
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
