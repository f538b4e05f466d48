# `titan broker --journal-sync normal` (docs/operations.md, "Durability"): the SQLite journal's commits go
# to the OS rather than to disk, which still survives kill -9 of the broker: a stream of submissions, the
# broker killed mid-stream and restarted on the same --dir, every acknowledged job is there and completes.
# A PostgreSQL journal refuses the option (the server's synchronous_commit decides there).
import subprocess

from cluster import Cluster, write_script
from node_process import titan_bin
from test_journal_postgresql import acknowledged_jobs_survive_a_broker_kill9


def test_every_acknowledged_job_survives_kill9_with_journal_sync_normal(tmp_path):
    script = write_script(tmp_path, "quick.sh", "true\n")
    with Cluster(tmp_path, broker_args=["--journal-sync", "normal"]) as cluster:
        # The broker says what it promises (and so that it took the option), then keeps that promise.
        assert "journal commits go to the OS, not to disk" in cluster.stderr(), cluster.stderr()
        acknowledged_jobs_survive_a_broker_kill9(cluster, script)


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
