# A broker on PostgreSQL sends a turn's acknowledgements only once the turn's commit is confirmed, and
# none when that commit fails, even with later turns' commits already sent (pipelined commits,
# docs/architecture.md "The journal"). Under a stream of submissions, several in flight at once, the commit is made to fail
# in two ways: another broker takes the lease (its epoch bumped by SQL, as a takeover does), and the
# PostgreSQL server dies (every process of it killed). Each time the broker stops, and every job whose
# submission was acknowledged is in the journal.
import time

from cluster import Cluster, wait_until, write_script
from pg_server import PostgresServer, bin_dir, pg_journal, postgres  # noqa: F401 (fixtures)
import pytest
from test_journal_postgresql import DEADLINE_S, MIN_ACKS_BEFORE_KILL, Submitter, turns_overlapped


def in_journal(server, uri, acked):
    """The acknowledged ids the journal has no row of."""
    ids = set(server.sql(uri, "SELECT convert_from(id, 'UTF8') FROM jobs").split())
    return [j for j in acked if j not in ids]


def submit_until_overlapping(cluster, script):
    """A stream of submissions, running once it has enough acknowledgements and turns have run with commits
    in flight."""
    submitter = Submitter(cluster.port, script, window=8)
    submitter.start()
    assert submitter.enough.wait(DEADLINE_S), "no %d acks in %ds\n%s" % (MIN_ACKS_BEFORE_KILL, DEADLINE_S,
                                                                         cluster.stderr())
    assert submitter.failure is None, "submissions stopped early: %r\n%s" % (submitter.failure, cluster.stderr())
    wait_until("turns overlapping commits in flight", lambda: turns_overlapped(cluster.port) > 0, DEADLINE_S)
    return [submitter]


def stopped_broker(cluster):
    """Waits for the broker to stop by itself; its exit code."""
    deadline = time.monotonic() + DEADLINE_S
    while cluster.broker.proc.poll() is None:
        assert time.monotonic() < deadline, "the broker did not stop:\n" + cluster.stderr()
        time.sleep(0.05)
    return cluster.broker.proc.returncode


def acknowledged(submitters):
    for submitter in submitters:
        submitter.halt.set()
        submitter.join(DEADLINE_S)
        assert not submitter.is_alive()
    return [j for submitter in submitters for j in submitter.acked]


def test_a_broker_whose_lease_is_taken_sends_no_acknowledgement_of_a_turn_that_failed(tmp_path, postgres,
                                                                                     pg_journal):
    script = write_script(tmp_path, "quick.sh", "true\n")
    with Cluster(tmp_path, broker_args=["--journal", pg_journal]) as cluster:
        submitters = submit_until_overlapping(cluster, script)
        # Another broker takes over: the epoch every transaction of this one checks moves on.
        postgres.sql(pg_journal, "UPDATE lease SET epoch = epoch + 1, holder = 'thief:1'")
        assert stopped_broker(cluster) != 0
        acked = acknowledged(submitters)
        log = cluster.broker.stderr()
        assert "another broker took over" in log or "lost the journal's lease" in log, log
        lost = in_journal(postgres, pg_journal, acked)
        assert lost == [], "%d of %d acknowledged jobs are not in the journal, first: %s" % (len(lost), len(acked),
                                                                                           lost[:5])
    print("lease taken: %d acknowledged jobs, all in the journal" % len(acked))


@pytest.mark.skipif(bin_dir() is None, reason="PostgreSQL is not installed")
def test_a_broker_whose_database_dies_sends_no_acknowledgement_of_a_turn_that_failed(tmp_path):
    server = PostgresServer().start()  # a server of this test's own: it is killed
    try:
        uri = server.new_database()
        script = write_script(tmp_path, "quick.sh", "true\n")
        with Cluster(tmp_path, broker_args=["--journal", uri]) as cluster:
            submitters = submit_until_overlapping(cluster, script)
            server.crash()
            assert stopped_broker(cluster) != 0
            acked = acknowledged(submitters)
            assert "journal commit failed" in cluster.broker.stderr() or "renew" in cluster.broker.stderr()
            server.restart()
            lost = in_journal(server, uri, acked)
            assert lost == [], "%d of %d acknowledged jobs are not in the journal, first: %s" % (
                len(lost), len(acked), lost[:5])
        print("database killed: %d acknowledged jobs, all in the journal" % len(acked))
    finally:
        server.stop()
