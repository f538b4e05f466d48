# `titan up` secure by default, on real processes: it makes the keys folder on first start (every file
# private), links the admin credential where clients on this machine find it, so `TitanClient()` needs
# no setup, refuses a client without a credential, keeps the same keys on its next start, and removes
# the link when it stops. `--insecure` runs plaintext with no keys. Output is read with a deadline.
import os
import re
import select
import signal
import stat
import subprocess
import time

import pytest

from node_process import titan_bin
from titan_sdk import AuthenticationError, TitanClient

DEADLINE_S = 30


def start_up(data, home, *extra, port=0):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    env["TITAN_HOME"] = str(home)
    proc = subprocess.Popen([str(titan_bin()), "up", "--port", str(port), "--workers", "1", "--dir", str(data)]
                            + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    out, deadline = b"", time.monotonic() + DEADLINE_S
    while b"Ctrl-C stops everything" not in out:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, "titan up did not start:\n" + out.decode(errors="replace")
        if select.select([proc.stdout], [], [], left)[0]:
            out += os.read(proc.stdout.fileno(), 65536)
    port = int(re.search(rb"broker\s+tcp://127\.0\.0\.1:(\d+)", out).group(1))
    return proc, port, out.decode()


def stop_up(proc):
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(DEADLINE_S) == 0


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TITAN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TITAN_CREDENTIALS", raising=False)
    return tmp_path / "home"


def test_titan_up_makes_keys_links_them_for_local_clients_and_unlinks_on_stop(tmp_path, home):
    data = tmp_path / "data"
    proc, port, out = start_up(data, home)
    try:
        assert "security CURVE" in out
        keys = data / "keys"
        for name in ("server.yaml", "principals.yaml", "admin.cred", "workers.cred"):
            assert stat.S_IMODE(os.stat(keys / name).st_mode) == 0o600, name
        link = home / "clusters" / ("127.0.0.1-%d.cred" % port)
        assert os.readlink(link) == str(keys / "admin.cred")
        with TitanClient(host="127.0.0.1", port=port) as local:
            assert local.credential.principal == "admin"
            assert local.store_put("k", "v") == "OK"
        os.environ["TITAN_HOME"] = str(tmp_path / "elsewhere")  # a client that finds no credential
        with TitanClient(host="127.0.0.1", port=port, timeout=5) as anonymous, \
                pytest.raises(AuthenticationError):
            anonymous.store_get("k")
        os.environ["TITAN_HOME"] = str(home)
        server_key = (keys / "server.yaml").read_text()
    finally:
        stop_up(proc)
    assert not link.exists() and not link.is_symlink()
    proc, port, _ = start_up(data, home)  # the second start keeps the keys it made
    try:
        assert (keys / "server.yaml").read_text() == server_key
        with TitanClient(host="127.0.0.1", port=port) as local:
            assert local.store_get("k") == "v"
    finally:
        stop_up(proc)


def test_titan_up_insecure_runs_plaintext_without_keys(tmp_path, home):
    data = tmp_path / "data"
    proc, port, out = start_up(data, home, "--insecure")
    try:
        assert "security NONE" in out
        assert not (data / "keys").exists()
        with TitanClient(host="127.0.0.1", port=port) as plain:
            assert plain.credential is None
            assert plain.store_put("k", "v") == "OK"
    finally:
        stop_up(proc)
