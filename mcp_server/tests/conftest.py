# The MCP server's tests: this checkout's SDK and server on the path, the SDK suite's helpers (real clusters)
# importable, the suites' guard (tests/python/suite_guard.py), and one cluster with keys for the session.
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "sdk" / "python", ROOT / "mcp_server", ROOT / "tests" / "python"):
    sys.path.insert(0, str(path))

from secure_cluster import keyed_cluster  # noqa: E402
from suite_guard import isolate_credentials, pytest_runtest_call  # noqa: E402,F401 (a hook of this suite)

isolate_credentials()


@pytest.fixture(scope="session")
def secure(tmp_path_factory):
    """(cluster with CURVE on and workers w1 and w2, {name: credential file}): admin, rita (a reader), workers."""
    cluster, creds = keyed_cluster(tmp_path_factory.mktemp("cluster"), {"rita": "reader", "workers": "worker"})
    try:
        yield cluster, creds
    finally:
        cluster.stop()
