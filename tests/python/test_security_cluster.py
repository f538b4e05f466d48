# A whole cluster with CURVE on (store, broker and a worker run with a keys folder from `titan keys`):
# every socket refuses a peer without a known key, the worker and event sockets admit only the roles
# that use them, and each role may send exactly what it grants (FORBIDDEN names the principal, its role
# and the permission). Handshakes are awaited on a ZeroMQ socket monitor with a deadline; no test sleeps.
import subprocess

import pytest
import zmq

from cluster import Cluster, unique_id, write_script
from node_process import titan_bin
from secure_cluster import DEADLINE_S, client, endpoints, handshake, titan
from test_wait_connection import feed_live
from titan_sdk import AuthenticationError, ForbiddenError, TitanJob
from titan_sdk.credentials import load_credential
from titan_sdk.protocol import MsgType

ROLES = ("reader", "submitter", "operator", "worker")


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    """(cluster, {role: credential path}, keys dir): one worker "sw1" with the `workers` credential."""
    root = tmp_path_factory.mktemp("secure")
    keys = root / "keys"
    titan("keys", "init", "--keys", str(keys))
    creds = {"admin": keys / "admin.cred"}
    for role in ROLES + ("revoked",):
        creds[role] = root / (role + ".cred")
        titan("keys", "add", role + "-1", "--role", "reader" if role == "revoked" else role, "--keys", str(keys),
              "--out", str(creds[role]))
    titan("keys", "revoke", "revoked-1", "--keys", str(keys))
    cluster = Cluster(root, workers=[("sw1", [])], keys=keys, worker_credential=creds["worker"]).start()
    try:
        yield cluster, creds, keys
    finally:
        cluster.stop()



def stranger(tmp_path, server_key: str):
    public, secret = zmq.curve_keypair()
    path = tmp_path / "stranger.cred"
    path.write_text("principal: stranger\nrole: admin\npublic_key: '%s'\nsecret_key: '%s'\nserver_key: '%s'\n"
                    % (public.decode(), secret.decode(), server_key))
    return path


def test_every_socket_refuses_no_key_an_unknown_key_and_a_revoked_key(secure, tmp_path):
    cluster, creds, _ = secure
    unknown = stranger(tmp_path, load_credential(creds["admin"]).server_key)
    for name, endpoint in endpoints(cluster.port, creds["admin"]).items():
        kind = zmq.SUB if name == "events" else zmq.DEALER
        assert handshake(endpoint, None, kind) == "refused", name
        assert handshake(endpoint, unknown, kind) == "refused", name
        assert handshake(endpoint, creds["revoked"], kind) == "refused", name
        assert handshake(endpoint, creds["worker" if name == "worker" else "reader"], kind) == "ok", name


def test_the_worker_and_event_sockets_admit_only_the_roles_that_use_them(secure):
    cluster, creds, _ = secure
    ep = endpoints(cluster.port, creds["admin"])
    assert handshake(ep["worker"], creds["submitter"]) == "refused"  # a submitter cannot pose as a worker
    assert handshake(ep["worker"], creds["reader"]) == "refused"
    assert handshake(ep["events"], creds["worker"], zmq.SUB) == "refused"  # a worker key reads no events
    assert handshake(ep["events"], creds["operator"], zmq.SUB) == "ok"


def test_a_client_without_a_credential_is_told_so(secure):
    cluster, _, _ = secure
    with client(cluster) as anonymous, pytest.raises(AuthenticationError) as e:
        anonymous.get_job("anything")
    assert "requires a credential" in str(e.value)


def test_each_role_may_send_exactly_what_it_grants(secure, tmp_path):
    cluster, creds, _ = secure
    script = write_script(tmp_path, "wait_here.sh", "exec sleep 600\n")  # runs until stopped
    job = unique_id("guarded")
    with client(cluster, creds["submitter"]) as submitter:
        submitter.submit_job(TitanJob(job, script))
        assert submitter.get_job(job).state in ("QUEUED", "RUNNING")
    with client(cluster, creds["reader"]) as reader:
        assert reader.get_job(job).id == job
        with pytest.raises(ForbiddenError) as e:
            reader.stop_job(job)
        assert "principal 'reader-1' (role reader) may not send JOB_STOP: it needs the operate permission" \
            in str(e.value)
    with client(cluster, creds["worker"]) as worker, pytest.raises(ForbiddenError) as e:
        worker.submit_job(TitanJob(unique_id("from-a-worker-key"), script))
    assert "(role worker)" in str(e.value)
    with client(cluster, creds["submitter"]) as submitter:
        with pytest.raises(ForbiddenError):
            submitter.stop_job(job)
        with pytest.raises(ForbiddenError) as e:
            submitter.approve(unique_id("gate"))
        assert "needs the operate permission" in str(e.value)
        with pytest.raises(ForbiddenError):
            submitter._broker_call(MsgType.WORKER_STOP, name="sw1")  # shut a worker down
    with client(cluster, creds["operator"]) as operator:
        operator.stop_job(job)
        assert operator.wait(job, timeout=DEADLINE_S) == "CANCELLED"


def test_a_submitted_job_runs_on_the_worker_with_its_key(secure, tmp_path):
    cluster, creds, _ = secure
    job = unique_id("curve-job")
    with client(cluster, creds["submitter"]) as submitter:
        submitter.submit_job(TitanJob(job, write_script(tmp_path, "hello.sh", "echo hello over curve\n")))
        assert submitter.wait(job, timeout=DEADLINE_S) == "COMPLETED"
        assert "hello over curve" in submitter.fetch_logs(job)
        feed_live(submitter)  # wait()'s event subscription is a CURVE client too


def test_titan_cli_with_and_without_its_credential(secure):
    cluster, creds, _ = secure
    base = [str(titan_bin()), "--port", str(cluster.port)]
    refused = subprocess.run(base + ["stats"], capture_output=True, text=True, timeout=30,
                             env={"PATH": "/usr/bin:/bin", "TITAN_HOME": str(creds["admin"].parent)})
    assert refused.returncode != 0
    assert "authentication failed" in refused.stderr and "--credentials" in refused.stderr
    ok = subprocess.run(base + ["--credentials", str(creds["reader"]), "stats"], capture_output=True, text=True,
                        timeout=30)
    assert ok.returncode == 0, ok.stderr
    assert "sw1" in ok.stdout


def test_the_cli_file_commands_use_its_credential(secure, tmp_path):
    """upload, deploy-script, artifacts and artifacts get open a connection of their own: a CURVE client too."""
    cluster, creds, _ = secure
    base = [str(titan_bin()), "--port", str(cluster.port), "--timeout", "20000", "--credentials", str(creds["admin"])]
    script = write_script(tmp_path, "curve_deployed.sh", "echo deployed over curve\n")
    for args in (["deploy-script", str(script)], ["upload", str(script)], ["artifacts"],
                 ["artifacts", "get", "curve_deployed.sh", "-o", str(tmp_path / "back.sh")]):
        done = subprocess.run(base + args, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (args, done.stderr)
        if args == ["artifacts"]:
            assert "curve_deployed.sh" in done.stdout
    assert (tmp_path / "back.sh").read_text() == "echo deployed over curve\n"
    job = unique_id("deployed")
    with client(cluster, creds["submitter"]) as submitter:
        submitter.submit_job(TitanJob(job, "curve_deployed.sh"))
        assert submitter.wait(job, timeout=DEADLINE_S) == "COMPLETED"
        assert "deployed over curve" in submitter.fetch_logs(job)


def test_a_job_uses_the_sdk_with_its_own_credential_which_ends_with_it(secure, tmp_path):
    cluster, creds, _ = secure
    child = unique_id("child")
    child_script = write_script(tmp_path, "child.sh", "echo child ran\n")
    script = write_script(tmp_path, "uses_sdk.py", """
        import os
        from titan_sdk import TitanClient, TitanJob
        client = TitanClient()
        print("credential", os.environ["TITAN_CREDENTIALS"], client.credential.principal, client.credential.role)
        client.store_put("from-" + os.environ["TITAN_JOB_ID"], "stored by the job")
        client.submit_job(TitanJob("%s", "%s"))
        print("child", client.wait("%s", timeout=30))
    """ % (child, child_script, child))
    job = unique_id("uses-sdk")
    with client(cluster, creds["submitter"]) as submitter:
        submitter.submit_job(TitanJob(job, script))
        assert submitter.wait(job, timeout=DEADLINE_S) == "COMPLETED", submitter.fetch_logs(job)
        log = submitter.fetch_logs(job)
        assert submitter.store_get("from-" + job) == "stored by the job"
    words = next(line for line in log.splitlines() if line.startswith("credential")).split()
    assert words[2] == "job-" + job and words[3] == "submitter"
    assert "child COMPLETED" in log
    # The job ended: its credential is refused from now on.
    with client(cluster, words[1]) as after, pytest.raises(AuthenticationError) as e:
        after.get_job(job)
    assert "unknown there or was revoked" in str(e.value)
