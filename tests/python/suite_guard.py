# What each pytest suite that runs real titan processes sets up in its conftest (mcp_server/tests imports it):
# credentials only from what a test passes, never from the developer's environment or a `titan up` on this
# machine, and a hard per-test timeout that dumps every thread's stack and ends the run instead of hanging CI.
import atexit
import faulthandler
import os
import shutil
import tempfile

import pytest

TEST_TIMEOUT_S = 120


def isolate_credentials() -> None:
    home = tempfile.mkdtemp(prefix="titan-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)  # the run's own: nothing is left in /tmp
    os.environ["TITAN_HOME"] = home
    os.environ.pop("TITAN_CREDENTIALS", None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
