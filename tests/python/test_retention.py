# Issue 14, defect 11 "Finished jobs are never dropped": with retention, finished jobs leave the broker's
# memory (STATS jobs_in_memory) and are still answered from its journal: status, result, logs, the job
# list, `titan status`, and after a broker restart.

from cli import titan_ok
from cluster import Cluster, write_script
from cluster import wait_until as wait_for
from conftest import client_of
from titan_sdk import TitanJob

DEADLINE_S = 60
KEPT = 2  # --retain-finished-count


def test_finished_jobs_are_dropped_from_memory_and_stay_queryable(tmp_path, monkeypatch):
    cluster = Cluster(tmp_path / "cluster", workers=(("w1", []),),
                      broker_args=["--retain-finished-s", "0", "--retain-finished-count", str(KEPT)]).start()
    try:
        with client_of(cluster, monkeypatch) as client:
            script = write_script(tmp_path, "hello.sh", 'echo "hello from $TITAN_JOB_ID"\n')
            ids = ["ret-%d" % i for i in range(5)]
            for job_id in ids:
                client.submit_job(TitanJob(job_id, script))
                assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
            stats = wait_for("eviction", lambda: (lambda s: s if s.get("jobs_in_memory") == KEPT else None)(
                client.get_stats()))
            assert stats["jobs_evicted"] == len(ids) - KEPT
            assert stats["completed"] == len(ids)  # counted whether in memory or in the journal only

            def answers_from_the_journal():
                for job_id in ids:  # the oldest three are in the journal only
                    info = client.get_job(job_id)
                    assert (info.id, info.state, info.worker, info.exit_code) == (job_id, "COMPLETED", "w1", 0)
                    assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
                    assert client.fetch_logs(job_id) == "hello from %s\n" % job_id
                assert [j.id for j in client.list_jobs(limit=10)] == list(reversed(ids))
                assert [j.id for j in client.list_jobs(state="COMPLETED", limit=2)] == [ids[4], ids[3]]
                assert "COMPLETED" in titan_ok(cluster.port, ["status", ids[0]])

            answers_from_the_journal()
            cluster.crash_and_restart_broker()  # reads back only the newest finished jobs
            assert client.get_stats()["jobs_in_memory"] == KEPT
            answers_from_the_journal()
            client.submit_job(TitanJob(ids[0], script))  # a reused id numbers its run past the journal's
            assert client.get_job(ids[0]).run == 2
    finally:
        cluster.stop()
