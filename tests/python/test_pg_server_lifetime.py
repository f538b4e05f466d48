# The test PostgreSQL server (pg_server.py) does not outlive the process that started it: SIGKILL of that
# process makes its watchdog stop the server and delete its directory; a server whose process and watchdog
# were both killed is reaped by the next run (reap_orphans). Waits on the processes' exits (pidfd), never
# on the clock.
import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pg_server import _gone, bin_dir, reap_orphans

DEADLINE_S = 60
HERE = Path(__file__).resolve().parent

# A test process: starts a server, says where it is, then waits to be killed.
CHILD = """
import json, sys
sys.path.insert(0, %r)
from pg_server import PostgresServer
server = PostgresServer().start()
print(json.dumps({"postmaster": server.postmaster_pid(), "watchdog": server.watchdog.pid, "dir": str(server.dir)}),
      flush=True)
sys.stdin.read()
""" % str(HERE)


@pytest.fixture
def server_of_a_child():
    """A child process with a running server: (the child, what it printed)."""
    if bin_dir() is None:
        pytest.skip("PostgreSQL is not installed: apt-get install postgresql, or cli/install.sh with "
                    "TITAN_TEST_TOOLS=1")
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        started = json.loads(child.stdout.readline() or "null")
        assert started is not None, "the child did not start a server"
        yield child, started
    finally:
        child.kill()
        child.wait(DEADLINE_S)
        child.stdin.close()
        child.stdout.close()


def wait_for_exits(*pids):
    """Returns once none of `pids` runs; fails after DEADLINE_S."""
    fds = []
    try:
        for pid in pids:
            try:
                fds.append(os.pidfd_open(pid))
            except ProcessLookupError:
                pass  # gone already
        while fds:
            ready, _, _ = select.select(fds, [], [], DEADLINE_S)
            assert ready, "processes %s still run %d s after their test process was killed" % (pids, DEADLINE_S)
            for fd in ready:
                fds.remove(fd)
                os.close(fd)
    finally:
        for fd in fds:
            os.close(fd)


def test_a_killed_test_process_leaves_no_server_running(server_of_a_child):
    child, started = server_of_a_child
    assert not _gone(started["postmaster"])
    child.send_signal(signal.SIGKILL)
    wait_for_exits(started["watchdog"], started["postmaster"])
    assert not os.path.exists(started["dir"]), "the killed process's server directory is still there"


def test_the_next_run_reaps_a_server_whose_watchdog_died_too(server_of_a_child):
    child, started = server_of_a_child
    os.kill(started["watchdog"], signal.SIGKILL)  # before the child: it could not stop the server
    wait_for_exits(started["watchdog"])
    child.send_signal(signal.SIGKILL)
    child.wait(DEADLINE_S)
    assert not _gone(started["postmaster"]) and os.path.exists(started["dir"])
    assert started["dir"] in reap_orphans()
    wait_for_exits(started["postmaster"])
    assert not os.path.exists(started["dir"])
