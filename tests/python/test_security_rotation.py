# `titan keys rotate` on a running cluster: the broker and the store (sharing the keys folder) switch to
# the new server key at once; a job running across it completes once (its worker, whose credential is in
# the keys folder, reconnects and is adopted back; the job's own credential follows); clients whose
# credential file was rewritten carry on, one still holding the old server key is refused with
# "authentication failed", and a re-issued credential works. Waits are on events with deadlines.
import shutil

import pytest

from cluster import Cluster, unique_id, write_script
from secure_cluster import DEADLINE_S, client, titan
from titan_sdk import AuthenticationError, TitanJob

# Appends a line to RUNS each time it starts (and says so), waits for RELEASE, then writes TitanStore with its own
# credential (which the rotation happened under) and prints what it stored.
JOB = """
import os, pathlib, time
from titan_sdk import TitanClient
with open(%(runs)r, "a") as runs:
    runs.write("started\\n")
print("started", flush=True)
while not pathlib.Path(%(release)r).exists():
    time.sleep(0.05)
key = "rotated-" + os.environ["TITAN_JOB_ID"]
TitanClient().store_put(key, "written after the rotation")
print("stored", key)
"""


@pytest.fixture(scope="module")
def rotating(tmp_path_factory):
    """(cluster, keys dir, alice's credential outside it); one worker "kw1" whose credential is
    <keys>/workers.cred, so `titan keys rotate` rewrites it."""
    root = tmp_path_factory.mktemp("rotating")
    keys = root / "keys"
    titan("keys", "init", "--keys", str(keys))
    titan("keys", "add", "workers", "--role", "worker", "--keys", str(keys), "--out", str(keys / "workers.cred"))
    alice = root / "alice.cred"
    titan("keys", "add", "alice", "--role", "submitter", "--keys", str(keys), "--out", str(alice))
    cluster = Cluster(root, workers=[("kw1", [])], keys=keys, worker_credential=keys / "workers.cred").start()
    try:
        yield cluster, keys, alice
    finally:
        cluster.stop()



def test_a_rotation_loses_no_job_and_refuses_only_the_old_key(rotating, tmp_path):
    cluster, keys, alice = rotating
    old_admin = shutil.copy(keys / "admin.cred", tmp_path / "old-admin.cred")  # a client that keeps the old key
    runs, release = tmp_path / "runs.txt", tmp_path / "release"
    long_job = unique_id("across")
    with client(cluster, keys / "admin.cred") as admin:  # made before the rotation, used after it
        admin.submit_job(TitanJob(long_job, write_script(tmp_path, "across.py",
                                                         JOB % {"runs": str(runs), "release": str(release)})))
        log = admin.stream_logs(long_job)
        assert "started" in next(log)  # it runs
        log.close()
        admin.store_put("before-rotation", "kept")

        rotated = titan("keys", "rotate", "--keys", str(keys)).stdout
        assert "new server key written into %s" % (keys / "admin.cred") in rotated, rotated
        assert "new server key written into %s" % (keys / "workers.cred") in rotated, rotated
        assert "alice (submitter)" in rotated and "titan keys reissue" in rotated, rotated

        # The admin client re-reads its rewritten file; a new job runs on the same worker process.
        quick = unique_id("after")
        admin.submit_job(TitanJob(quick, write_script(tmp_path, "after.sh", "echo after the rotation\n")))
        assert admin.wait(quick, timeout=DEADLINE_S) == "COMPLETED", admin.fetch_logs(quick)
        assert admin.get_job(quick).worker == "kw1" and cluster.workers["kw1"].proc.poll() is None
        with client(cluster, keys / "admin.cred") as fresh:  # and a client started after it
            assert fresh.store_get("before-rotation") == "kept"  # the store uses the new key too

        release.touch()
        assert admin.wait(long_job, timeout=DEADLINE_S) == "COMPLETED", admin.fetch_logs(long_job)
        assert runs.read_text() == "started\n"  # not lost, not run twice
        assert admin.get_job(long_job).attempt == 1
        assert admin.store_get("rotated-" + long_job) == "written after the rotation"

    for holder in (old_admin, alice):
        with client(cluster, holder) as stale, pytest.raises(AuthenticationError) as e:
            stale.get_job(long_job)
        assert str(e.value).startswith("authentication failed: "), e.value
    with client(cluster, old_admin) as stale, pytest.raises(AuthenticationError):
        stale.store_get("before-rotation")

    titan("keys", "reissue", "alice", "--keys", str(keys), "--out", str(alice))
    with client(cluster, alice) as reissued:
        assert reissued.get_job(long_job).state == "COMPLETED"


def test_a_running_worker_follows_a_rollback_too(rotating, tmp_path):
    cluster, keys, _ = rotating
    titan("keys", "rotate", "--rollback", "--keys", str(keys))
    job = unique_id("rolled-back")
    with client(cluster, keys / "admin.cred") as admin:
        admin.submit_job(TitanJob(job, write_script(tmp_path, "back.sh", "echo back\n")))
        assert admin.wait(job, timeout=DEADLINE_S) == "COMPLETED"
        assert admin.get_job(job).worker == "kw1"
