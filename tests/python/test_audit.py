# The audit log on a real cluster with CURVE on: each state-changing request is recorded with its
# principal, action, target and outcome (a denied attempt too), key changes from `titan keys` appear as
# KEY_ADD / KEY_REVOKE, only admins read it (`titan audit`, TitanClient.audit), no secret reaches it, it
# survives kill -9 of the broker, and a store run with --audit-writes records each write's key, never its
# value. Waits are on the broker (JOB_WAIT) or a condition polled with a deadline; no test sleeps.
import datetime
import json
import sqlite3
import subprocess
import time
import uuid

import pytest

from cluster import Cluster, unique_id, write_script
from node_process import titan_bin
from secure_cluster import client
from titan_sdk import ForbiddenError, TitanJob

DEADLINE_S = 30
PRINCIPALS = {"alice": "submitter", "bob": "operator", "reader-1": "reader", "workers": "worker"}


def titan(*args, check=True):
    return subprocess.run([str(titan_bin())] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=30, check=check)


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    """(cluster, {principal: credential path}, keys dir): CURVE on, one worker, a store with --audit-writes."""
    root = tmp_path_factory.mktemp("audited")
    keys = root / "keys"
    titan("keys", "init", "--keys", keys)
    creds = {"admin": keys / "admin.cred"}
    for name, role in PRINCIPALS.items():
        creds[name] = root / (name + ".cred")
        titan("keys", "add", name, "--role", role, "--keys", keys, "--out", creds[name])
    cluster = Cluster(root, workers=[("aw1", [])], keys=keys, worker_credential=creds["workers"],
                      store_args=["--audit-writes"]).start()
    try:
        yield cluster, creds, keys
    finally:
        cluster.stop()



def audit_cli(cluster, cred, *args):
    """`titan audit ARGS` as the principal of `cred` (the completed process; not checked)."""
    return titan("--port", cluster.port, "--credentials", cred, "audit", *args, check=False)


def audit_json(cluster, creds, *args):
    result = audit_cli(cluster, creds["admin"], "--json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def rows(entries, action, target=None):
    """(principal, target, outcome) of each entry with `action` (and `target`, when given)."""
    return [(e["principal"], e["target"], e["outcome"]) for e in entries
            if e["action"] == action and (target is None or e["target"] == target)]


def wait_for_entry(cluster, creds, action, target):
    """The first entry of `action` on `target`, polled from the broker's audit log within the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    with client(cluster, creds["admin"]) as admin:
        while True:
            found = [e for e in admin.audit() if e.action == action and e.target == target]
            if found:
                return found[0]
            assert time.monotonic() < deadline, "no %s %s in the audit log within %d s" % (action, target,
                                                                                         DEADLINE_S)


def test_each_change_is_recorded_with_who_did_it_and_how_it_ended(audited, tmp_path):
    cluster, creds, keys = audited
    secret = "TOPSECRET-" + uuid.uuid4().hex
    sleeper = write_script(tmp_path, "sleeper.sh", "exec sleep 600\n")  # runs until stopped
    hello = write_script(tmp_path, "hello.sh", "echo hello\n")
    long_job, gated = unique_id("long"), unique_id("gated")
    with client(cluster, creds["alice"]) as alice:
        alice.submit_job(TitanJob(long_job, sleeper, args="--token " + secret, env={"API_KEY": secret}))
        alice.submit_dag(None, [TitanJob(gated, hello, hitl_message="Ship it?")])
        assert alice.wait(gated, timeout=DEADLINE_S) == "COMPLETED"
    with client(cluster, creds["reader-1"]) as reader, pytest.raises(ForbiddenError):
        reader.stop_job(long_job)
    with client(cluster, creds["bob"]) as bob:
        bob.stop_job(long_job)
        assert bob.approve("hitl-gate-" + gated) == "COMPLETED"
        assert bob.wait(long_job, timeout=DEADLINE_S) == "CANCELLED"
    titan("keys", "add", "carol", "--role", "reader", "--keys", keys, "--out", tmp_path / "carol.cred")
    titan("keys", "revoke", "carol", "--keys", keys)
    revoke = wait_for_entry(cluster, creds, "KEY_REVOKE", "carol")
    assert revoke.principal.startswith("os:") and revoke.outcome == "ok"

    entries = audit_json(cluster, creds)
    assert ("alice", "dag=%s jobs=%s" % (long_job, long_job), "ok") in rows(entries, "JOB_SUBMIT")
    assert [("bob", long_job, "ok")] == rows(entries, "JOB_STOP", long_job)[1:]
    assert ("reader-1", long_job, "FORBIDDEN") == rows(entries, "JOB_STOP", long_job)[0]  # before bob's
    assert [("bob", "hitl-gate-%s approve" % gated, "ok")] == rows(entries, "GATE_DECIDE")
    assert [(revoke.principal, "carol role=reader", "ok")] == rows(entries, "KEY_ADD")
    assert [e["action"] for e in entries if e["target"].startswith("carol")] == ["KEY_ADD", "KEY_REVOKE"]
    # Each run's own credential (principal job-<id>) comes and goes without a row of its own.
    assert not [e for e in entries if e["action"].startswith("KEY_") and e["target"].startswith("job-")]
    assert secret not in json.dumps(entries)
    assert all(e["ts_ms"] > 0 and e["seq"] > 0 for e in entries)
    # Filters: by principal, and since a time after everything above.
    assert {e["principal"] for e in audit_json(cluster, creds, "--principal", "bob", "--since", "1h")} == {"bob"}
    assert audit_json(cluster, creds, "--since", "2999-01-01") == []
    table = audit_cli(cluster, creds["admin"], "--principal", "reader-1")
    assert table.returncode == 0, table.stderr
    assert "TIME" in table.stdout and "JOB_STOP" in table.stdout and "FORBIDDEN" in table.stdout


def test_only_an_admin_reads_the_audit_log_and_a_refusal_is_recorded(audited):
    cluster, creds, _ = audited
    refused = audit_cli(cluster, creds["reader-1"])
    assert refused.returncode == 3
    assert "FORBIDDEN: principal 'reader-1' (role reader) may not send AUDIT_LIST: it needs the admin permission" \
        in refused.stderr
    with client(cluster, creds["bob"]) as bob, pytest.raises(ForbiddenError):
        bob.audit()
    assert ("bob", "", "FORBIDDEN") in rows(audit_json(cluster, creds), "AUDIT_LIST")
    with client(cluster, creds["admin"]) as admin:
        assert [e.principal for e in admin.audit(principal="reader-1", limit=1)] == ["reader-1"]
        assert {e.principal for e in admin.audit(since=datetime.timedelta(hours=1), principal="bob")} == {"bob"}
        assert admin.audit(since=time.time() + 3600) == []


def test_entries_survive_kill9_of_the_broker(audited, tmp_path):
    cluster, creds, _ = audited
    job = unique_id("before-crash")
    with client(cluster, creds["alice"]) as alice:
        alice.submit_job(TitanJob(job, write_script(tmp_path, "quick.sh", "true\n")))
    cluster.crash_and_restart_broker()  # the JOB_ACCEPTED came back: its row was committed with the job
    assert [("alice", "dag=%s jobs=%s" % (job, job), "ok")] == rows(audit_json(cluster, creds), "JOB_SUBMIT",
                                                                   "dag=%s jobs=%s" % (job, job))


def test_a_store_with_audit_writes_records_each_write_key_never_its_value(audited):
    cluster, creds, _ = audited
    key, value = unique_id("audited-key"), "VALUE-" + uuid.uuid4().hex
    with client(cluster, creds["alice"]) as alice:
        assert alice.store_put(key, value) == "OK"
        assert alice.store_sadd(key + "-set", value) == 1
    with client(cluster, creds["reader-1"]) as reader, pytest.raises(ForbiddenError):
        reader.store_put(key, "nope")
    with client(cluster, creds["admin"]) as admin:
        store_rows = [(e.principal, e.action, e.target, e.outcome) for e in admin.audit(store=True)]
    assert ("alice", "STORE_PUT", '"%s"' % key, "ok") in store_rows
    assert ("alice", "STORE_SADD", '"%s-set"' % key, "ok") in store_rows
    assert ("reader-1", "STORE_PUT", '"%s"' % key, "FORBIDDEN") in store_rows
    cli = audit_cli(cluster, creds["admin"], "--store", "--json", "--principal", "alice")
    assert cli.returncode == 0, cli.stderr
    assert {e["action"] for e in json.loads(cli.stdout)} >= {"STORE_PUT", "STORE_SADD"}
    # The value is in the store's data, and nowhere in its audit table.
    db = sqlite3.connect("file:%s?mode=ro" % (cluster.root / "store" / "store.db"), uri=True)
    try:
        audit_rows = db.execute("SELECT * FROM audit").fetchall()
    finally:
        db.close()
    assert any(key.encode() in b"".join(c if isinstance(c, bytes) else str(c).encode() for c in r)
               for r in audit_rows)
    assert not any(value.encode() in b"".join(c if isinstance(c, bytes) else str(c).encode() for c in r)
                   for r in audit_rows)
