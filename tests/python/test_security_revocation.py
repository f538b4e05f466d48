# `titan keys revoke NAME` closes what the principal has open, not only what it opens next: its event
# subscriptions are closed (and refused at the handshake when they reconnect) while the other
# subscribers reconnect and keep receiving, `titan tail` under it ends saying why, and its worker is
# dropped at once, its running job requeued to another worker. Everything is awaited on socket
# monitors, event feeds or process exits with a deadline; no test sleeps.
import subprocess
import time

import pytest
import zmq

from cluster import Cluster, unique_id, write_script
from node_process import titan_bin
from secure_cluster import DEADLINE_S, Watched, endpoints, titan
from titan_sdk import TitanClient, TitanJob
from titan_sdk import protocol

TICKING = "while true; do echo tick; sleep 0.2; done\n"  # a job with events until it is stopped
HANDSHAKE_FAILED = (zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)


@pytest.fixture(scope="module")
def revocable(tmp_path_factory):
    """(cluster, keys dir, credential path of a new principal: fn(name, role)); one worker "rw-a" whose
    principal is "workers-a"."""
    root = tmp_path_factory.mktemp("revocable")
    keys = root / "keys"
    titan("keys", "init", "--keys", str(keys))

    def principal(name: str, role: str):
        path = root / (name + ".cred")
        titan("keys", "add", name, "--role", role, "--keys", str(keys), "--out", str(path))
        return path

    cluster = Cluster(root, workers=[("rw-a", [])], keys=keys, worker_credential=principal("workers-a", "worker"))
    cluster.start()
    try:
        yield cluster, keys, principal
    finally:
        cluster.stop()


def admin(cluster, keys) -> TitanClient:
    return TitanClient(host="127.0.0.1", port=cluster.port, timeout=10, credentials=str(keys / "admin.cred"))


def ticking_job(client: TitanClient, tmp_path, prefix: str) -> str:
    job = unique_id(prefix)
    client.submit_job(TitanJob(job, write_script(tmp_path, job + ".sh", TICKING)))
    return job


def test_a_revoked_subscription_is_closed_and_the_others_keep_receiving(revocable, tmp_path):
    cluster, keys, principal = revocable
    events = endpoints(cluster.port, keys / "admin.cred")["events"]
    alice, bob = principal("alice", "reader"), principal("bob", "reader")
    with admin(cluster, keys) as operator:
        jobs = [ticking_job(operator, tmp_path, "before")]
        topic = ("log." + jobs[0]).encode()
        watched = {"alice": Watched(events, alice, zmq.SUB, [b"log."]), "bob": Watched(events, bob, zmq.SUB, [b"log."])}
        try:
            deadline = time.monotonic() + DEADLINE_S
            for sub in watched.values():
                assert sub.events_until(zmq.EVENT_HANDSHAKE_SUCCEEDED, deadline)[-1] == zmq.EVENT_HANDSHAKE_SUCCEEDED
                sub.receive(topic, deadline)  # both are receiving

            titan("keys", "revoke", "alice", "--keys", str(keys))
            deadline = time.monotonic() + DEADLINE_S
            seen = watched["alice"].events_until(HANDSHAKE_FAILED, deadline)
            assert seen[0] == zmq.EVENT_DISCONNECTED and seen[-1] == zmq.EVENT_HANDSHAKE_FAILED_AUTH, seen
            assert watched["bob"].events_until(zmq.EVENT_HANDSHAKE_SUCCEEDED, deadline)[-1] \
                == zmq.EVENT_HANDSHAKE_SUCCEEDED  # bob's connection was closed too, and came back
            watched["alice"].drain()  # what reached alice before her connection closed

            jobs.append(ticking_job(operator, tmp_path, "after"))
            watched["bob"].receive(("log." + jobs[1]).encode(), deadline)
            assert watched["alice"].drain() == 0  # nothing since: her connection stays refused
        finally:
            for sub in watched.values():
                sub.close()
            for job in jobs:
                operator.stop_job(job)


def test_titan_tail_of_a_revoked_principal_ends_saying_so(revocable, tmp_path):
    cluster, keys, principal = revocable
    carol = principal("carol", "reader")
    with admin(cluster, keys) as operator:
        job = ticking_job(operator, tmp_path, "tailed")
        tail = subprocess.Popen([str(titan_bin()), "--port", str(cluster.port), "--credentials", str(carol), "tail",
                                 "--logs"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert "tick" in tail.stdout.readline()  # it receives (a line arrives within 0.2 s of the job's start)
            titan("keys", "revoke", "carol", "--keys", str(keys))
            assert tail.wait(timeout=DEADLINE_S) != 0
            stderr = tail.stderr.read()
            assert "authentication failed" in stderr and "principal 'carol'" in stderr, stderr
        finally:
            if tail.poll() is None:
                tail.kill()
                tail.wait()
            operator.stop_job(job)


def test_a_revoked_workers_job_is_requeued_to_another_worker_at_once(revocable, tmp_path):
    cluster, keys, principal = revocable
    events = endpoints(cluster.port, keys / "admin.cred")["events"]
    job = unique_id("moved")
    feed = Watched(events, keys / "admin.cred", zmq.SUB, [("job." + job).encode(), b"worker.rw-a"])
    with admin(cluster, keys) as operator:
        try:
            deadline = time.monotonic() + DEADLINE_S
            feed.receive(b"worker.rw-a", deadline)  # subscribed (the broker publishes each heartbeat)
            operator.submit_job(TitanJob(job, write_script(tmp_path, "long.sh", "exec sleep 600\n")))
            assert job_event(feed, job, "RUNNING", deadline)["worker"] == "rw-a"
            cluster.start_worker("rw-b", credential=principal("workers-b", "worker"))

            titan("keys", "revoke", "workers-a", "--keys", str(keys))
            deadline = time.monotonic() + DEADLINE_S
            requeued = job_event(feed, job, "QUEUED", deadline)
            assert "the principal 'workers-a' of worker rw-a was revoked" in requeued["reason"], requeued
            assert job_event(feed, job, "RUNNING", deadline)["worker"] == "rw-b"
        finally:
            feed.close()
            operator.stop_job(job)


def job_event(feed: Watched, job: str, state: str, deadline: float) -> dict:
    """The fields of the next EVENT_JOB on `feed` that reports `job` in `state`."""
    while True:
        event = protocol.decode(feed.receive(("job." + job).encode(), deadline)[1:])
        if event.type == protocol.MsgType.EVENT_JOB and event.fields["state"] == state:
            return event.fields
