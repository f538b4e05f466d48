# A job's secret_env on real processes (CURVE on): the job gets each secret in its environment, and the
# value appears nowhere else: not in the broker's data folder (journal, WAL, logs), `titan jobs --json`,
# `titan status`, an event from the PUB socket, the job's stored or local log (the worker masks it as
# ****), nor a repr of the job. Sealed in the journal, it survives a kill -9 of the broker. The SDK,
# `titan run --secret-env` and YAML (`secret_env:`, Joblet's `secret_environment:`) all carry it.
import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import zmq

from cluster import Cluster, unique_id, write_script
from node_process import titan_bin
from secure_cluster import client
from titan_sdk import TitanJob
from titan_sdk.credentials import load_credential
from titan_sdk.protocol import MsgType
from titan_sdk.transport import Connection

DEADLINE_S = 30
# Prints the secret (masked by the worker) and its digest (proof it arrived intact).
SHOW = 'echo "the key is $API_KEY"\nprintf %s "$API_KEY" | sha256sum\n'


def titan(*args, env=None):
    return subprocess.run([str(titan_bin())] + list(args), capture_output=True, text=True, timeout=30, env=env)


def secret(label: str) -> str:
    return "s3cret-%s-%s" % (label, os.urandom(6).hex())


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    """(cluster, admin credential): store, broker and worker "sec1" with CURVE on."""
    root = tmp_path_factory.mktemp("secrets")
    keys = root / "keys"
    assert titan("keys", "init", "--keys", str(keys)).returncode == 0
    worker = root / "worker.cred"
    added = titan("keys", "add", "worker-1", "--role", "worker", "--keys", str(keys), "--out", str(worker))
    assert added.returncode == 0, added.stderr
    cluster = Cluster(root, workers=[("sec1", [])], keys=keys, worker_credential=worker).start()
    try:
        yield cluster, keys / "admin.cred"
    finally:
        cluster.stop()



def subscribe_events(cluster, cred) -> zmq.Socket:
    """A SUB socket on the broker's event PUB with `cred`, subscribed to everything, handshake done."""
    conn = Connection("tcp://127.0.0.1:%d" % cluster.port, "", load_credential(cred))
    try:
        pub_port = conn.request(MsgType.HELLO, {"client": "test"}, 10).fields["pub_port"]
    finally:
        conn.close()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.linger = 0
    load_credential(cred).apply(sub)
    monitor = sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect("tcp://127.0.0.1:%d" % pub_port)
    assert monitor.poll(DEADLINE_S * 1000), "no handshake with the event socket"
    sub.disable_monitor()
    monitor.close(0)
    return sub


def drain(sub: zmq.Socket, until: bytes) -> bytes:
    """Every frame received until one holds `until` (the job's final event), then what is left."""
    frames = []
    while not any(until in f for f in frames):
        assert sub.poll(DEADLINE_S * 1000), "no event holding %r" % until
        frames.extend(sub.recv_multipart())
    while sub.poll(0):
        frames.extend(sub.recv_multipart())
    return b"\n".join(frames)


def files_under(folder: Path):
    return [p for p in Path(folder).rglob("*") if p.is_file()]


def assert_nowhere(value: str, folder: Path):
    for path in files_under(folder):
        assert value.encode() not in path.read_bytes(), "the secret is in %s" % path


def test_a_secret_reaches_the_job_and_nowhere_else(secure, tmp_path):
    cluster, admin = secure
    value = secret("sdk")
    job = unique_id("secret-job")
    events = subscribe_events(cluster, admin)
    try:
        with client(cluster, admin) as c:
            spec = TitanJob(job, write_script(tmp_path, "show.sh", SHOW), secret_env={"API_KEY": value},
                            env={"PLAIN": "visible"})
            assert value not in repr(spec) and "API_KEY=****" in repr(spec)
            c.submit_job(spec)
            assert c.wait(job, timeout=DEADLINE_S) == "COMPLETED", c.fetch_logs(job)
            log = c.fetch_logs(job)
            info = c.get_job(job)
        captured = drain(events, b"COMPLETED")
    finally:
        events.close(0)
    assert "the key is ****" in log, log
    assert digest(value) in log, "the job did not get the secret intact:\n" + log
    assert value not in log
    assert info.secret_env == ["API_KEY=****"]
    assert job.encode() in captured and value.encode() not in captured
    base = ["--port", str(cluster.port), "--credentials", str(admin)]
    listed = titan(*base, "jobs", "--json")
    status = titan(*base, "status", job)
    assert listed.returncode == 0 and status.returncode == 0, listed.stderr + status.stderr
    assert job in listed.stdout and "API_KEY=****" in listed.stdout and value not in listed.stdout
    assert value not in status.stdout
    job_dirs = [p for p in (cluster.root / "sec1").rglob(job) if p.is_dir()]
    assert job_dirs and "the key is ****" in (job_dirs[0] / "job.log").read_text()
    assert_nowhere(value, cluster.root / "broker")
    assert_nowhere(value, cluster.root / "sec1")
    assert_nowhere(value, cluster.root / "store")


def test_the_cli_and_yaml_carry_secrets(secure, tmp_path):
    cluster, admin = secure
    base = ["--port", str(cluster.port), "--credentials", str(admin)]
    value, yaml_value, joblet_value = secret("cli"), secret("yaml"), secret("joblet")
    run_id = unique_id("cli-secret")
    env = dict(os.environ, API_KEY=value)
    ran = titan(*base, "run", write_script(tmp_path, "show.sh", SHOW), "--id", run_id, "--secret-env", "API_KEY",
                "--wait", env=env)
    assert ran.returncode == 0, ran.stderr
    missing = titan(*base, "run", str(tmp_path / "show.sh"), "--secret-env", "NOT_SET_ANYWHERE",
                    env={k: v for k, v in os.environ.items() if k != "NOT_SET_ANYWHERE"})
    assert missing.returncode != 0 and "NOT_SET_ANYWHERE is not set in this environment" in missing.stderr

    titan_yaml, joblet_yaml = unique_id("yaml-secret"), unique_id("joblet-secret")
    (tmp_path / "titan.yaml").write_text(
        "name: %s\njobs:\n  - id: %s\n    script: show.sh\n    secret_env:\n      API_KEY: %s\n"
        % (unique_id("dag"), titan_yaml, yaml_value))
    (tmp_path / "joblet.yaml").write_text(
        "version: '3.0'\nname: %s\njobs:\n  - name: %s\n    command: sh\n    args: [show.sh]\n"
        "    secret_environment:\n      API_KEY: %s\n" % (unique_id("wf"), joblet_yaml, joblet_value))
    for name in ("titan.yaml", "joblet.yaml"):
        sub = titan(*base, "submit", str(tmp_path / name), "--wait")
        assert sub.returncode == 0, sub.stderr + sub.stdout
    with client(cluster, admin) as c:
        for job, v in ((run_id, value), (titan_yaml, yaml_value), (joblet_yaml, joblet_value)):
            log = c.fetch_logs(job)
            assert digest(v) in log and "the key is ****" in log and v not in log, (job, log)
            assert c.get_job(job).secret_env == ["API_KEY=****"]
    assert_nowhere(value, cluster.root / "broker")
    assert_nowhere(yaml_value, cluster.root / "broker")


def test_a_sealed_secret_survives_a_broker_kill9(tmp_path):
    keys = tmp_path / "keys"
    assert titan("keys", "init", "--keys", str(keys)).returncode == 0
    worker = tmp_path / "worker.cred"
    added = titan("keys", "add", "worker-1", "--role", "worker", "--keys", str(keys), "--out", str(worker))
    assert added.returncode == 0, added.stderr
    admin = keys / "admin.cred"
    cluster = Cluster(tmp_path, workers=[], keys=keys, worker_credential=worker).start()
    value = secret("restart")
    job = unique_id("sealed")
    try:
        with client(cluster, admin) as c:  # no worker yet: it waits QUEUED, journaled with its secret sealed
            c.submit_job(TitanJob(job, write_script(tmp_path, "show.sh", SHOW), secret_env=["API_KEY=" + value]))
        assert (tmp_path / "broker" / "secrets.key").stat().st_mode & 0o777 == 0o600
        cluster.restart_broker()
        assert_nowhere(value, tmp_path / "broker")
        cluster.start_worker("late1")
        with client(cluster, admin) as c:
            assert c.wait(job, timeout=DEADLINE_S) == "COMPLETED", c.fetch_logs(job)
            assert digest(value) in c.fetch_logs(job)
    finally:
        cluster.stop()


def test_a_bad_secret_entry_is_refused_without_echoing_it():
    with pytest.raises(ValueError) as e:
        from titan_sdk.submission import env_list
        env_list(["novalue-s3cret"], "secret_env", echo=False)
    assert "s3cret" not in str(e.value) and "secret_env entry #1" in str(e.value)
    spec = TitanJob("j", "/bin/true", secret_environment={"K": "v"})
    assert spec.secret_env == {"K": "v"}
    with pytest.raises(TypeError):
        TitanJob("j", "/bin/true", secret_env={"K": "v"}, secret_environment={"K": "v"})
