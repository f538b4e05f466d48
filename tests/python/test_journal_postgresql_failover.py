# A failover of the PostgreSQL under a broker's journal: a primary with a synchronous standby, a broker on
# both (`postgresql://h1,h2/db?target_session_attrs=read-write`) under a stream of submissions, the loss of
# the primary's machine (SIGKILL of its postmaster and of every child) and the promotion of the standby.
# The broker stops when its journal's connection is lost; started again with the same flags (as a
# supervisor does), it finds the promoted standby through the same URI, and every job it acknowledged
# before is there, once. Before the kill, the test shows that acknowledgements wait for the standby.
import threading
import time

from cluster import Cluster, unique_id, wait_until, write_script
from pg_server import postgres_pair  # noqa: F401 (fixture)
from titan_sdk import TitanClient, TitanError, TitanJob

MIN_ACKS_BEFORE_KILL = 100
MIN_ACKS_AFTER_FAILOVER = 20
# How soon the submitter notices a broker that is gone (it then goes on with a new connection): the
# failover measured is late by up to this much. A submission slower than this only counts as failed.
CLIENT_TIMEOUT_S = 1.0
DEADLINE_S = 60


class Submitter(threading.Thread):
    """Submits jobs one by one, each id once, until stop is set. A submission that fails (the broker is
    gone or refuses) is not acknowledged: the submitter reconnects and goes on with the next id, so no id is
    ever submitted twice. Records each acknowledged id with the monotonic times its submission began and was
    acknowledged."""

    def __init__(self, port, script):
        super().__init__(daemon=True)
        self.port, self.script = port, script
        self.acked = []  # (id, began, acknowledged_at)
        self.failures = 0
        self.error = None  # anything but a failed submission ends the thread
        self.stop = threading.Event()

    def run(self):
        prefix = unique_id("pgfo")
        n = 0
        try:
            while not self.stop.is_set():
                with TitanClient(port=self.port, timeout=CLIENT_TIMEOUT_S) as c:
                    while not self.stop.is_set():
                        job_id, n = "%s-%d" % (prefix, n), n + 1
                        began = time.monotonic()
                        try:
                            c.submit_job(TitanJob(job_id, self.script))
                        except TitanError:
                            self.failures += 1
                            break  # a new connection for the next id
                        self.acked.append((job_id, began, time.monotonic()))
        except BaseException as e:  # noqa: B902 (reported by the test)
            self.error = e

    def acked_since(self, t):
        """The acknowledgements of submissions that began after `t`."""
        return [a for a in list(self.acked) if a[1] > t]


def test_no_acknowledged_job_is_lost_when_the_postgresql_primary_fails_over(tmp_path, postgres_pair):
    primary, standby = postgres_pair
    database = primary.new_database().rsplit("/", 1)[1]  # made on the primary, streamed to the standby
    journal = "postgresql://titan@127.0.0.1:%d,127.0.0.1:%d/%s?target_session_attrs=read-write" % (
        primary.port, standby.port, database)
    script = write_script(tmp_path, "quick.sh", "true\n")
    with Cluster(tmp_path, workers=(), broker_args=["--journal", journal]) as cluster:
        submitter = Submitter(cluster.port, script)
        submitter.start()
        try:
            wait_until("%d acknowledged submissions" % MIN_ACKS_BEFORE_KILL,
                       lambda: len(submitter.acked) >= MIN_ACKS_BEFORE_KILL or submitter.error, DEADLINE_S)
            assert submitter.error is None, submitter.error
            # Each COMMIT waits for the standby: with the standby stopped, a submission begun then is not
            # acknowledged (it times out); with it running again, submissions are.
            assert ("titan_standby", "streaming", "sync") in primary.replication()
            failures = submitter.failures
            standby.pause()
            paused_at = time.monotonic()
            try:
                wait_until("a submission waiting for the stopped standby", lambda: submitter.failures > failures)
            finally:
                standby.resume()
            resumed_at = time.monotonic()
            early = [a for a in submitter.acked_since(paused_at) if a[2] < resumed_at]
            assert early == [], "acknowledged while the synchronous standby was stopped: %s" % early
            wait_until("acknowledgements with the standby back",
                       lambda: len(submitter.acked_since(resumed_at)) >= 10 or submitter.error, DEADLINE_S)
            assert ("titan_standby", "streaming", "sync") in primary.replication()
            # Mid-stream: the submitter is still submitting. From killed_at no process of the primary runs, so
            # a submission begun later can only be acknowledged through the promoted standby.
            killed_at = primary.crash()
            standby.promote()
            promoted_s = time.monotonic() - killed_at
            code = cluster.broker.proc.wait(DEADLINE_S)  # it stops once a turn or renewal finds the connection lost
            broker_stopped_s = time.monotonic() - killed_at
            assert code != 0, cluster.stderr()
            cluster.crash_and_restart_broker()  # a supervisor's restart: the same flags, the same client port
            restarted_s = time.monotonic() - killed_at
            wait_until("%d acknowledgements after the failover" % MIN_ACKS_AFTER_FAILOVER,
                       lambda: len(submitter.acked_since(killed_at)) >= MIN_ACKS_AFTER_FAILOVER or submitter.error,
                       DEADLINE_S)
            assert submitter.error is None, submitter.error
        finally:
            submitter.stop.set()
            submitter.join(DEADLINE_S)
        assert not submitter.is_alive()
        first_ack_s = submitter.acked_since(killed_at)[0][2] - killed_at
        acked = [a[0] for a in submitter.acked]
        before = sum(1 for a in submitter.acked if a[1] <= killed_at)

        with TitanClient(port=cluster.port, timeout=10) as c:
            lost = [j for j in acked if c.get_job(j) is None]
            assert lost == [], "%d of %d acknowledged jobs lost, first: %s" % (len(lost), len(acked), lost[:5])
            twice = [j for j in acked if len(c.job_history(j)) != 1]
            assert twice == [], "jobs recorded more than once: %s" % twice[:5]
        # The journal now is the promoted standby's (the only server left), one row per submitted id.
        assert standby.sql(journal, "SELECT inet_server_port()").strip() == str(standby.port)
        doubled = standby.sql(journal, "SELECT count(*) FROM (SELECT id FROM jobs GROUP BY id HAVING count(*) > 1) d")
        assert int(doubled) == 0
        assert int(standby.sql(journal, "SELECT count(DISTINCT id) FROM jobs")) >= len(acked)
    print("postgresql failover: %d jobs acknowledged before SIGKILL of the primary, %d after, none lost or doubled; "
          "standby promoted %.2f s, broker stopped by %.2f s, restarted (READY) %.2f s, first acknowledgement "
          "%.2f s after the kill (%d failed submissions)"
          % (before, len(acked) - before, promoted_s, broker_stopped_s, restarted_s, first_ack_s,
             submitter.failures))
