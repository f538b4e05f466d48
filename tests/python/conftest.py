# Shared fixtures for the Python SDK suite: the SDK from this checkout, a real `titan store` per test,
# a client connected to it, a whole cluster (store, broker, 2 workers) per session, a port nothing
# listens on, and a hard per-test timeout.
import socket
import sys

import pytest

from cluster import Cluster
from store_process import REPO_ROOT, StoreProcess
from suite_guard import isolate_credentials, pytest_runtest_call  # noqa: F401 (a hook of this suite)

sys.path.insert(0, str(REPO_ROOT / "sdk" / "python"))  # test this checkout even without `pip install -e`

from titan_sdk import TitanClient  # noqa: E402
from titan_sdk.transport import Connection  # noqa: E402

# Credentials come only from what a test passes: not from the environment, nor from links a `titan up`
# on this machine made (credentials.py). A hung test dumps every thread's stack and ends the run.
isolate_credentials()


@pytest.fixture
def store(tmp_path):
    """A running store on an ephemeral port, data in tmp_path/store; stopped at teardown."""
    proc = StoreProcess(tmp_path / "store").start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def store_port(store):
    return store.port


@pytest.fixture
def client(store, monkeypatch):
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    with TitanClient(host="127.0.0.1", port=store.port, timeout=5) as c:
        yield c


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    """Store + broker + workers w1 and w2 (4 slots each), as separate processes; stopped at the end."""
    c = Cluster(tmp_path_factory.mktemp("cluster")).start()
    try:
        yield c
    finally:
        c.stop()


def client_of(cluster, monkeypatch):
    """A TitanClient for `cluster`'s broker, named explicitly, with TITAN_* cleared for the test."""
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT", "TITAN_JOB_ID"):
        monkeypatch.delenv(var, raising=False)
    return TitanClient(host="127.0.0.1", port=cluster.port, timeout=10)


@pytest.fixture
def broker_client(cluster, monkeypatch):
    """A TitanClient for the session cluster's broker (TITAN_* cleared for the test)."""
    with client_of(cluster, monkeypatch) as c:
        yield c


@pytest.fixture
def free_port():
    """A TCP port on 127.0.0.1 that nothing is bound to (it was free a moment ago)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """An empty current directory: job files named there exist only on the broker."""
    path = tmp_path / "elsewhere"
    path.mkdir()
    monkeypatch.chdir(path)
    return path


@pytest.fixture
def raw(cluster):
    """A bare Connection to the broker's client port, for requests the SDK would never send."""
    conn = Connection("tcp://127.0.0.1:%d" % cluster.port, "is the test cluster running?")
    yield lambda msg_type, blobs=(), **fields: conn.request(msg_type, fields, 10, blobs).fields
    conn.close()
