# The broker's journal in a real PostgreSQL (`titan broker --journal postgresql://...`): a broker on it
# runs jobs, is killed with SIGKILL mid-stream of submissions (once turns have run while earlier turns'
# commits were in flight, their acknowledgements held: workers' reports beside the submissions), restarts from the same database,
# and every acknowledged job is there and runs to its end; a journal that cannot be reached is refused with an error
# that names it without its password; a second broker on the same journal is a standby that takes over
# a leader stopped past its lease, which then stops.
import subprocess
import threading
import time

from cluster import BROKER_READY_RE, Cluster, unique_id, wait_until, write_script
from node_process import NodeProcess, titan_bin
from pg_server import free_port, pg_journal, postgres  # noqa: F401 (fixtures)
from titan_sdk import TitanClient, TitanError, TitanJob

MIN_ACKS_BEFORE_KILL = 100
DEADLINE_S = 120


def turns_overlapped(port) -> int:
    """The broker's count of turns that ran while an earlier turn's commit was in flight."""
    with TitanClient(port=port, timeout=10) as c:
        families = {f.name: f for f in c.metrics()}
    return sum(s.value for s in families["titan_journal_turns_overlapped_total"].samples)


class Submitter(threading.Thread):
    """Submits jobs until a submission fails, `window` at a time (pipelined on one connection when more than
    one: several in flight); records each acknowledged id."""

    def __init__(self, port, script, window=1):
        super().__init__(daemon=True)
        self.port, self.script, self.window = port, script, window
        self.acked = []
        self.failure = None
        self.enough = threading.Event()
        self.halt = threading.Event()  # set: stop after the submissions in flight (a restarted broker answers)

    def run(self):
        prefix = unique_id("pg")
        sent = 0
        with TitanClient(port=self.port, timeout=5.0) as c:
            while self.failure is None and not self.halt.is_set():
                jobs = [TitanJob("%s-%d" % (prefix, sent + i), self.script) for i in range(self.window)]
                sent += self.window
                # The broker dying under us ends the stream: its answers are errors from then on.
                if self.window == 1:
                    try:
                        answers = [c.submit_job(jobs[0])]
                    except TitanError as e:
                        answers = [e]
                else:
                    answers = c.submit_many(jobs, window=self.window, return_exceptions=True)
                for job, answer in zip(jobs, answers):
                    if isinstance(answer, TitanError):
                        self.failure = self.failure or answer
                    else:
                        self.acked.append(job.job_id)
                if len(self.acked) >= MIN_ACKS_BEFORE_KILL:
                    self.enough.set()
        self.enough.set()


def acknowledged_jobs_survive_a_broker_kill9(cluster, script, before_kill=lambda: None):
    """Submits `script` jobs one by one, kills the broker (SIGKILL) mid-stream, once `before_kill()` returned,
    and restarts it on the same journal (and the workers, whose broker port changed); asserts that every
    acknowledged job is there and completes. Returns the acknowledged ids."""
    submitter = Submitter(cluster.port, script)
    submitter.start()
    assert submitter.enough.wait(DEADLINE_S), "no %d acks in %ds\n%s" % (MIN_ACKS_BEFORE_KILL, DEADLINE_S,
                                                                         cluster.stderr())
    assert submitter.failure is None, "submissions stopped before the kill: %r" % submitter.failure
    before_kill()
    cluster.crash_and_restart_broker()  # mid-stream: the submitter is still submitting
    submitter.halt.set()  # its next request may reach the restarted broker: the stream need not fail
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
        unfinished = {j: c.get_job(j) for j in acked if ends[j] != "COMPLETED"}
    assert unfinished == {}, "%d of %d acknowledged jobs did not complete: %r\n%s" % (
        len(unfinished), len(acked), dict(list(unfinished.items())[:3]), cluster.stderr())
    return acked


def test_every_acknowledged_job_survives_kill9_of_a_broker_on_postgresql(tmp_path, postgres, pg_journal):
    script = write_script(tmp_path, "quick.sh", "true\n")
    with Cluster(tmp_path, broker_args=["--journal", pg_journal]) as cluster:
        # Turns with commits in flight: the kill lands among them (acknowledgements held, not yet sent).
        acked = acknowledged_jobs_survive_a_broker_kill9(cluster, script, before_kill=lambda: wait_until(
            "turns overlapping commits in flight", lambda: turns_overlapped(cluster.port) > 0, DEADLINE_S))
        # The rows are PostgreSQL's: the database holds each acknowledged job, and no SQLite file was made.
        rows = postgres.sql(pg_journal, "SELECT count(DISTINCT id) FROM jobs")
        assert int(rows) >= len(acked)
        assert not (tmp_path / "broker" / "broker.db").exists()
        assert postgres.sql(pg_journal, "SELECT version FROM schema_version").strip() == "3"
    print("postgresql journal: %d acknowledged jobs before SIGKILL, none lost" % len(acked))


def test_a_journal_that_cannot_be_reached_is_named_without_its_password(tmp_path):
    uri = "postgresql://titan:s3cret-word@127.0.0.1:%d/titan" % free_port()  # nothing listens there
    proc = subprocess.run([str(titan_bin()), "broker", "--port", "0", "--worker-port", "0", "--pub-port", "0",
                           "--dir", str(tmp_path / "broker"), "--journal", uri],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 1
    assert "cannot connect to PostgreSQL at postgresql://titan:***@127.0.0.1:" in proc.stderr, proc.stderr
    assert "Connection refused" in proc.stderr or "connection" in proc.stderr.lower()
    assert "s3cret-word" not in proc.stderr + proc.stdout


def test_a_journal_that_is_not_a_postgresql_uri_is_refused(tmp_path):
    proc = subprocess.run([str(titan_bin()), "broker", "--port", "0", "--dir", str(tmp_path / "broker"),
                           "--journal", "mysql://h/titan"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert "--journal 'mysql://h/titan' is not a postgresql:// URI" in proc.stderr, proc.stderr


def test_a_standby_takes_over_a_stopped_leader_which_then_demotes_itself(tmp_path, postgres, pg_journal):
    """Two brokers on one journal: the second waits as a standby; SIGSTOP of the leader past its lease's TTL
    lets the standby take over (it recovers from the journal: the jobs acknowledged before are there); after
    SIGCONT the old leader acknowledges nothing more and stops, and no turn of its epoch committed after the
    takeover."""
    script = write_script(tmp_path, "quick.sh", "true\n")
    ttl = ["--lease-ttl-ms", "1500"]
    with Cluster(tmp_path, broker_args=["--journal", pg_journal] + ttl) as cluster:
        leader = cluster.broker
        before = unique_id("before")
        with TitanClient(port=cluster.port, timeout=10) as c:
            c.submit_job(TitanJob(before, script))
            assert c.wait(before, timeout=DEADLINE_S) == "COMPLETED"
        standby = NodeProcess("standby broker", ["broker", "--port", "0", "--worker-port", "0", "--pub-port", "0",
                                                 "--dir", str(tmp_path / "standby"), "--store-port",
                                                 str(cluster.store.port), "--journal", pg_journal] + ttl,
                              BROKER_READY_RE, tmp_path / "standby.stderr.log")
        promoted = threading.Thread(target=standby.start, daemon=True)  # returns once it prints READY
        promoted.start()
        try:
            wait_until("the second broker waits as a standby",
                       lambda: "standby: the journal's lease is held by" in standby.stderr())
            assert standby.ready is None
            epoch = int(postgres.sql(pg_journal, "SELECT epoch FROM lease"))
            leader.pause()
            stopped_at = time.monotonic()
            promoted.join(DEADLINE_S)
            assert standby.ready is not None, standby.stderr()
            takeover_s = time.monotonic() - stopped_at
            assert int(postgres.sql(pg_journal, "SELECT epoch FROM lease")) == epoch + 1
            with TitanClient(port=int(standby.ready.group(1)), timeout=10) as c:
                assert c.get_job(before) is not None  # rebuilt from the journal, as a restart does
            leader.resume()
            resumed_at = time.monotonic()
            code = leader.proc.wait(DEADLINE_S)
            demote_s = time.monotonic() - resumed_at
            assert code == 1
            assert "lost the journal's lease (epoch %d): another broker took over" % epoch in leader.stderr() or \
                "another broker took over" in leader.stderr(), leader.stderr()
            # No turn of the old epoch committed after the new epoch took the lease.
            late = postgres.sql(pg_journal, "SELECT count(*) FROM lease_turns t, lease l WHERE t.epoch = %d "
                                            "AND t.last_at >= l.acquired_at" % epoch)
            assert int(late) == 0
            turns = postgres.sql(pg_journal, "SELECT turns FROM lease_turns WHERE epoch = %d" % epoch)
            assert int(turns) > 0  # the old leader's turns were recorded (so the check above means something)
        finally:
            if leader.proc.poll() is None:
                leader.resume()
            standby.stop()
    print("lease takeover: standby led %.2f s after SIGSTOP (TTL 1.5 s); old leader stopped %.2f s after SIGCONT"
          % (takeover_s, demote_s))
