"""The broker's journal on PostgreSQL against SQLite, in one run: no-op jobs/s through `titan up
--executor noop` (a big DAG of independent jobs, submitted at once, until the last one completes) and
single submissions one after another (jobs/s and submit->ack latency). PostgreSQL is a server of the
bench's own (tests/python/pg_server.py: initdb + pg_ctl, loopback TCP) with fsync and
synchronous_commit on, its defaults; SQLite is the default journal (WAL, synchronous=FULL).

Run: .venv/bin/python tests/bench/journal_bench.py [--jobs N] [--singles N] [--reference-bin PATH]
(--reference-bin: PostgreSQL measured a second time with another titan executable, e.g. a build of the
previous commit, in the same run.)
"""
import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
sys.path.insert(0, os.path.join(REPO, "tests", "python"))
from pg_server import PostgresServer  # noqa: E402
from titan_sdk import TitanClient, TitanJob  # noqa: E402

TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))


class Up:
    """`titan up --executor noop` on a free port range (with `journal`: --journal); stopped on exit."""

    def __init__(self, journal, offset, binary=TITAN):
        self.dir = tempfile.mkdtemp(prefix="titan-bench-")
        # Removed when the benchmark ends, not between rounds: ext4 without a journal skips the inodes freed in the
        # last seconds when it allocates (recently_deleted, seen in worker profiles here), so a round that followed the
        # removal of thousands of job folders would pay for it in its jobs' mkdirs.
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)
        self.port = 20000 + os.getpid() % 5000 * 4 + offset * 8
        args = [binary, "up", "--dir", self.dir, "--port", str(self.port), "--workers", "2", "--executor", "noop",
                "--slots", "1024", "--no-dashboard"]
        if journal:
            args += ["--journal", journal]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:
            if "Titan is up" in line:
                break
        else:
            raise SystemExit("titan up did not start; see " + self.dir)
        self.client = TitanClient(port=self.port, timeout=300)

    def stop(self):
        self.client.close()
        self.proc.send_signal(2)
        self.proc.wait(timeout=60)


def measure(journal, offset, n, singles, script, binary=TITAN):
    up = Up(journal, offset, binary)
    try:
        jobs = [TitanJob(job_id=f"flat{i}", filename=script) for i in range(n)]
        t0 = time.perf_counter()
        up.client.submit_dag("flat", jobs)
        for j in (jobs[-1], jobs[0], jobs[n // 2]):
            assert up.client.wait(j.job_id, timeout=600) == "COMPLETED"
        # every job of the DAG is final once the DAG is: the last, first and middle job stand for it
        dag_s = time.perf_counter() - t0
        acks = []
        t1 = time.perf_counter()
        for i in range(singles):
            s = time.perf_counter()
            up.client.submit_job(TitanJob(job_id=f"one{i}", filename=script))
            acks.append(time.perf_counter() - s)
        singles_s = time.perf_counter() - t1
        assert up.client.wait(f"one{singles - 1}", timeout=300) == "COMPLETED"
    finally:
        up.stop()
    acks.sort()
    return {"dag_jobs_s": n / dag_s, "singles_s": singles / singles_s,
            "ack_p50_ms": statistics.median(acks) * 1e3, "ack_p99_ms": acks[int(len(acks) * 0.99) - 1] * 1e3}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=50000)
    ap.add_argument("--singles", type=int, default=3000)
    ap.add_argument("--reference-bin", help="measure PostgreSQL with this titan executable too")
    a = ap.parse_args()
    script = os.path.join(tempfile.mkdtemp(), "noop.sh")
    open(script, "w").write("exit 0\n")
    pg = PostgresServer(durable=True)
    try:
        pg.start()
        print("PostgreSQL settings:", pg.sql(pg.uri("postgres"),
                                               "SELECT string_agg(name || '=' || setting, ' ') FROM pg_settings "
                                               "WHERE name IN ('fsync', 'synchronous_commit')").strip())
        sqlite = measure(None, 0, a.jobs, a.singles, script)
        postgres = measure(pg.new_database(), 1, a.jobs, a.singles, script)
        reference = measure(pg.new_database(), 2, a.jobs, a.singles, script, a.reference_bin) \
            if a.reference_bin else None
    finally:
        pg.stop()
    print(f"| journal | DAG of {a.jobs} no-op jobs: jobs/s | {a.singles} single submits: jobs/s | "
          "submit->ack p50 ms | p99 ms |")
    print("| --- | --- | --- | --- | --- |")
    rows = [("SQLite", sqlite), ("PostgreSQL", postgres)]
    if reference:
        rows.append(("PostgreSQL (reference binary)", reference))
    for name, r in rows:
        print(f"| {name} | {r['dag_jobs_s']:.0f} | {r['singles_s']:.0f} | {r['ack_p50_ms']:.2f} | "
              f"{r['ack_p99_ms']:.2f} |")
    print(f"PostgreSQL / SQLite: DAG jobs/s x{postgres['dag_jobs_s'] / sqlite['dag_jobs_s']:.2f}, single submits "
          f"x{postgres['singles_s'] / sqlite['singles_s']:.2f}")
    if reference:
        print(f"reference binary / SQLite: DAG jobs/s x{reference['dag_jobs_s'] / sqlite['dag_jobs_s']:.2f}, "
              f"single submits x{reference['singles_s'] / sqlite['singles_s']:.2f}")


if __name__ == "__main__":
    main()
