# The dashboard's tests: this checkout's SDK and dashboard on the path, the SDK suite's helpers (real clusters)
# importable, no credential from the developer's environment, and a hard per-test timeout.
import faulthandler
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "sdk" / "python", ROOT / "dashboard", ROOT / "tests" / "python"):
    sys.path.insert(0, str(path))

os.environ["TITAN_HOME"] = tempfile.mkdtemp(prefix="titan-home-")
os.environ.pop("TITAN_CREDENTIALS", None)
TEST_TIMEOUT_S = 120


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    faulthandler.dump_traceback_later(TEST_TIMEOUT_S, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
