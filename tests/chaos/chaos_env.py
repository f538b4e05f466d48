# What the chaos suite runs with: the integration helpers of tests/python (cluster.py and the process
# handles it uses) and this checkout's SDK on sys.path, and an environment in which no developer's Titan
# settings (TITAN_HOST, credentials linked by a `titan up`) reach the clients.
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

CHAOS_DIR = Path(__file__).resolve().parent
REPO_ROOT = CHAOS_DIR.parents[1]


def prepare() -> None:
    """Puts tests/python and sdk/python first on sys.path and isolates the Titan client settings. Idempotent."""
    for path in (REPO_ROOT / "sdk" / "python", REPO_ROOT / "tests" / "python"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT", "TITAN_CREDENTIALS", "TITAN_JOB_ID"):
        os.environ.pop(var, None)
    if "TITAN_HOME" not in os.environ or not os.environ["TITAN_HOME"].startswith(tempfile.gettempdir()):
        home = tempfile.mkdtemp(prefix="titan-home-")
        atexit.register(shutil.rmtree, home, ignore_errors=True)  # the run's own: nothing is left in /tmp
        os.environ["TITAN_HOME"] = home
