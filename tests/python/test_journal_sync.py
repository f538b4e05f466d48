# `titan broker --journal-sync normal` (docs/operations.md, "Durability"): the SQLite journal's commits go
# to the OS rather than to disk, which still survives kill -9 of the broker: a stream of submissions, the
# broker killed mid-stream and restarted on the same --dir, every acknowledged job is there and completes.
# A PostgreSQL journal refuses the option (the server's synchronous_commit decides there).
import subprocess

from cluster import Cluster, write_script
from node_process import titan_bin
from test_journal_postgresql import DEADLINE_S, MIN_ACKS_BEFORE_KILL, Submitter
from titan_sdk import TitanClient


def test_every_acknowledged_job_survives_kill9_with_journal_sync_normal(tmp_path):
    script = write_script(tmp_path, "quick.sh", "true\n")
    with Cluster(tmp_path, broker_args=["--journal-sync", "normal"]) as cluster:
        submitter = Submitter(cluster.port, script)
        submitter.start()
        assert submitter.enough.wait(DEADLINE_S), "no %d acks in %ds\n%s" % (MIN_ACKS_BEFORE_KILL, DEADLINE_S,
                                                                             cluster.stderr())
        assert submitter.failure is None, "submissions stopped before the kill: %r" % submitter.failure
        cluster.crash_and_restart_broker()  # mid-stream: the submitter is still submitting
        submitter.join(DEADLINE_S)
        assert not submitter.is_alive()
        acked = list(submitter.acked)
        assert len(acked) >= MIN_ACKS_BEFORE_KILL
        for name in list(cluster.workers):  # to the new broker (its worker port is new)
            cluster.crash_and_restart_worker(name)
        with TitanClient(port=cluster.port, timeout=10) as c:
            lost = [j for j in acked if c.get_job(j) is None]
            assert lost == [], "%d of %d acknowledged jobs lost, first: %s" % (len(lost), len(acked), lost[:5])
            ends = {j: c.wait(j, timeout=DEADLINE_S) for j in acked}
        assert set(ends.values()) == {"COMPLETED"}, {s: [j for j in ends if ends[j] == s][:3] for s in ends.values()}


def test_journal_sync_is_refused_with_a_postgresql_journal(tmp_path):
    proc = subprocess.run([str(titan_bin()), "broker", "--port", "0", "--dir", str(tmp_path / "broker"),
                           "--journal", "postgresql://127.0.0.1:1/titan", "--journal-sync", "normal"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 1
    assert "--journal-sync normal applies to the SQLite journal" in proc.stderr, proc.stderr


def test_journal_sync_takes_only_full_or_normal(tmp_path):
    proc = subprocess.run([str(titan_bin()), "broker", "--port", "0", "--dir", str(tmp_path / "broker"),
                           "--journal-sync", "off"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60)
    assert proc.returncode != 0
    assert "--journal-sync" in proc.stderr and "full" in proc.stderr, proc.stderr
