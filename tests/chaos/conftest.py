# The chaos suite's pytest setup: the helpers of tests/python and this checkout's SDK on sys.path, Titan
# client settings isolated, and a hard timeout per test (longer for a longer chaos run).
import faulthandler
import os

import pytest

import chaos_env

chaos_env.prepare()

BASE_TIMEOUT_S = 420  # setup, drain, checks and teardown of a chaos run; the fuzz test takes under a minute


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """A hung test dumps every thread's stack and ends the run instead of hanging CI."""
    minutes = float(os.environ.get("TITAN_CHAOS_MINUTES", "").strip() or 2)
    faulthandler.dump_traceback_later(BASE_TIMEOUT_S + minutes * 60, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
