# The dashboard's tests: this checkout's SDK and dashboard on the path, the SDK suite's helpers (real clusters)
# importable, no credential from the developer's environment, and a hard per-test timeout.
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "sdk" / "python", ROOT / "dashboard", ROOT / "tests" / "python"):
    sys.path.insert(0, str(path))

from suite_guard import isolate_credentials, pytest_runtest_call  # noqa: E402,F401 (a hook of this suite)

isolate_credentials()
