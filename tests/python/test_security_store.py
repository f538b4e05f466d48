# TitanStore with CURVE on, on a real `titan store` with a keys folder made by `titan keys`: who may
# connect (no key, an unknown key, a revoked key are refused with a clear error, not a timeout), what
# each role may do (FORBIDDEN names the principal, its role and the permission), revocation of a
# connected client, and the refusal to listen beyond loopback without keys.
import os
import stat
import subprocess
import time

import pytest
import yaml
import zmq

from node_process import titan_bin
from store_process import StoreProcess
from titan_sdk import AuthenticationError, ForbiddenError, TitanClient
from titan_sdk.credentials import load_credential

DEADLINE_S = 10


def is_private(path) -> bool:
    """True when only the owner can read `path` (what `titan keys` writes)."""
    return stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0


def titan(*args, check=True):
    return subprocess.run([titan_bin()] + list(args), capture_output=True, text=True, timeout=30, check=check)


@pytest.fixture
def secure_store(tmp_path):
    """A store whose keys folder has admin, reader, submitter and worker principals."""
    data = tmp_path / "store"
    titan("keys", "init", "--dir", str(data))
    creds = {"admin": data / "keys" / "admin.cred"}
    for role in ("reader", "submitter", "worker", "operator"):
        creds[role] = tmp_path / (role + ".cred")
        titan("keys", "add", role + "-1", "--role", role, "--dir", str(data), "--out", str(creds[role]))
    proc = StoreProcess(data).start()
    try:
        yield proc, creds, data
    finally:
        proc.stop()


def client(proc, cred=None):
    return TitanClient(host="127.0.0.1", port=proc.port, timeout=5, credentials=str(cred) if cred else None)


def test_each_role_may_do_what_it_grants_and_forbidden_names_who_and_what(secure_store):
    proc, creds, _ = secure_store
    with client(proc, creds["admin"]) as admin:
        assert admin.store_put("k", "v") == "OK"
    with client(proc, creds["submitter"]) as submitter:
        assert submitter.store_put("k2", "v2") == "OK"
        assert submitter.store_get("k") == "v"
    with client(proc, creds["reader"]) as reader:
        assert reader.store_get("k") == "v"
        with pytest.raises(ForbiddenError) as e:
            reader.store_put("k", "overwritten")
        assert ("principal 'reader-1' (role reader) may not send STORE_PUT: it needs the submit permission"
                in str(e.value))
    for role in ("worker", "operator"):
        with client(proc, creds[role]) as c, pytest.raises(ForbiddenError) as e:
            c.store_put("k", "x")
        assert "(role %s)" % role in str(e.value)
    with client(proc, creds["worker"]) as worker, pytest.raises(ForbiddenError):
        worker.store_get("k")  # a worker key reads nothing
    with client(proc, creds["admin"]) as admin:
        assert admin.store_get("k") == "v"


def test_a_client_without_a_credential_is_told_so_not_timed_out(secure_store):
    proc, _, _ = secure_store
    with client(proc) as anonymous, pytest.raises(AuthenticationError) as e:
        anonymous.store_get("k")
    assert "authentication failed: the node at tcp://127.0.0.1:%d requires a credential" % proc.port in str(e.value)
    assert "TITAN_CREDENTIALS" in str(e.value)


def test_an_unknown_key_is_refused(secure_store, tmp_path):
    proc, creds, _ = secure_store
    public, secret = zmq.curve_keypair()
    stranger = tmp_path / "stranger.cred"
    stranger.write_text(yaml.safe_dump({
        "principal": "stranger", "role": "admin", "public_key": public.decode(), "secret_key": secret.decode(),
        "server_key": load_credential(creds["admin"]).server_key}))
    with client(proc, stranger) as c, pytest.raises(AuthenticationError) as e:
        c.store_get("k")
    assert "refused principal 'stranger'" in str(e.value)
    assert "unknown there or was revoked" in str(e.value)


def test_revocation_refuses_new_connections_and_the_requests_of_open_ones(secure_store):
    proc, creds, data = secure_store
    connected = client(proc, creds["submitter"])
    assert connected.store_put("before", "1") == "OK"
    titan("keys", "revoke", "submitter-1", "--dir", str(data))
    # The store reloads its principals when the file changes (inotify): wait for that, with a deadline.
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            connected.store_put("after", "1")
        except ForbiddenError as e:
            assert "principal 'submitter-1' was revoked" in str(e)
            break
        assert time.monotonic() < deadline, "the revocation did not apply within %d s" % DEADLINE_S
    connected.close()
    with client(proc, creds["submitter"]) as again, pytest.raises(AuthenticationError) as e:
        again.store_get("before")
    assert "refused principal 'submitter-1'" in str(e.value)
    with client(proc, creds["admin"]) as admin:
        assert admin.store_get("after") is None  # the revoked principal's write never happened


def test_keys_files_are_private(secure_store):
    _, creds, data = secure_store
    for path in [data / "keys" / "server.yaml", data / "keys" / "principals.yaml"] + list(creds.values()):
        assert is_private(path), path
    listing = titan("keys", "list", "--dir", str(data)).stdout
    assert "reader-1" in listing and "reader" in listing
    for cred in creds.values():
        assert load_credential(cred).secret_key not in listing
    assert load_credential(creds["admin"]).secret_key not in (data / "keys" / "principals.yaml").read_text()


def test_keys_commands_where_there_is_no_keys_folder_say_so(tmp_path):
    for args in (["list"], ["revoke", "alice"], ["reissue", "alice"]):
        done = subprocess.run([titan_bin(), "keys"] + args + ["--keys", str(tmp_path / "nowhere")],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 1 and done.stdout == "", args
        assert "no keys folder at %s" % (tmp_path / "nowhere") in done.stderr, done.stderr
        assert "titan keys init" in done.stderr


def test_a_store_beyond_loopback_without_keys_refuses_to_start(tmp_path):
    result = subprocess.run([titan_bin(), "store", "--bind", "0.0.0.0", "--port", "0", "--dir", str(tmp_path / "s")],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "refusing to listen on 0.0.0.0 without keys" in result.stderr
    assert "--insecure" in result.stderr
