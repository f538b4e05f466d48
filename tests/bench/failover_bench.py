"""Broker failover on PostgreSQL (issue 19): two `titan broker`s on one journal (a PostgreSQL 15 of the bench's
own, tests/python/pg_server.py, fsync and synchronous_commit on), one worker and two clients given both
brokers, under a stream of submissions; the active broker is killed with SIGKILL `--kills` times, and each
time the killed one is started again at once with the same flags, as a supervisor would (it becomes the
standby). Measured per kill: from the kill to the first submission acknowledged by the new leader (one sent
after the kill), for one-by-one submissions (submit_job) and for pipelined ones (submit_async). Checked at
the end: every acknowledged job is in the journal (lost: must be 0), no id has two rows in `jobs`, and each
job ran once (every job appends its id to a file: duplicate executions).

Run: TITAN_BIN=$PWD/build/bin/titan .venv/bin/python tests/bench/failover_bench.py [--kills 20] [--ttl-ms 4000]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
sys.path.insert(0, os.path.join(REPO, "tests", "python"))
from pg_server import PostgresServer, free_port  # noqa: E402
from titan_sdk import NoReplyError, TitanClient, TitanError, TitanJob  # noqa: E402

TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))


def wait_for(what, check, deadline_s=120.0, every_s=0.02):
    deadline = time.monotonic() + deadline_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise SystemExit("waited %g s for %s" % (deadline_s, what))
        time.sleep(every_s)


class Broker:
    """One `titan broker` on a fixed client port and its own --dir; start() returns at once (a standby prints
    READY only once it leads); kill9() is the crash."""

    def __init__(self, root, name, port, journal, ttl_ms):
        self.name, self.port = name, port
        self.dir = os.path.join(root, name)
        self.log = os.path.join(root, name + ".stderr.log")
        self.args = [TITAN, "broker", "--port", str(port), "--worker-port", "0", "--pub-port", "0", "--dir",
                     self.dir, "--journal", journal, "--lease-ttl-ms", str(ttl_ms), "--advertise",
                     "127.0.0.1:%d" % port]
        self.proc = None
        self.led_at = None  # monotonic time it printed READY (it leads)
        self.lives = 0

    def start(self):
        self.lives += 1
        self.led_at = None
        self._log_from = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                         start_new_session=True, text=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        return self

    def _read(self, proc):
        for line in proc.stdout:
            if line.startswith("READY broker") and proc is self.proc:
                self.led_at = time.monotonic()

    def standing_by(self):
        with open(self.log, "rb") as f:
            f.seek(self._log_from)
            return b"answering NOT_LEADER on" in f.read()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


class Stream(threading.Thread):
    """Submits no-op jobs with its own client given both brokers, recording (id, sent at, acknowledged at) of
    each acknowledged one and the ids left in doubt (no answer: not sent again). `pipelined`: submit_async with
    a window of 16, else submit_job one by one. At most `rate` submissions a second."""

    def __init__(self, name, hosts, script, pipelined, rate):
        super().__init__(daemon=True)
        self.name, self.hosts, self.script, self.pipelined, self.rate = name, hosts, script, pipelined, rate
        self.acked, self.in_doubt, self.errors = [], [], []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def run(self):
        n = 0
        with TitanClient(host=self.hosts, timeout=2.0) as c:
            pending = []
            while not self.stopping.is_set():
                job_id = "%s-%d" % (self.name, n)
                n += 1
                sent = time.monotonic()
                if self.pipelined:
                    pending.append((job_id, sent, c.submit_async(TitanJob(job_id, self.script), window=16)))
                    # Every answered handle, not only the oldest: submissions refused NOT_LEADER are answered
                    # after later ones, and an acknowledgement is timed when it is seen.
                    done = [p for p in pending if p[2].done()]
                    for p in done:
                        self._settle(*p)
                    pending = [p for p in pending if p not in done]
                    while len(pending) > 32:
                        self._settle(*pending.pop(0))
                else:
                    try:
                        c.submit_job(TitanJob(job_id, self.script))
                        self._ack(job_id, sent)
                    except NoReplyError:
                        self.in_doubt.append(job_id)
                    except TitanError as e:
                        self.errors.append(repr(e))
                time.sleep(max(0.0, sent + 1.0 / self.rate - time.monotonic()))
            for p in pending:
                self._settle(*p)

    def _settle(self, job_id, sent, handle):
        error = handle.exception()
        if error is None:
            self._ack(job_id, sent)
        elif isinstance(error, NoReplyError):
            self.in_doubt.append(job_id)
        else:
            self.errors.append(repr(error))

    def _ack(self, job_id, sent):
        with self.lock:
            self.acked.append((job_id, sent, time.monotonic()))

    def first_ack_sent_after(self, t):
        with self.lock:
            return next((acked for _, sent, acked in self.acked if sent > t), None)

    def acks(self):
        with self.lock:
            return len(self.acked)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, int(round(p / 100.0 * len(values) + 0.5)) - 1))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--ttl-ms", type=int, default=4000)
    ap.add_argument("--rate", type=float, default=40, help="submissions a second per stream")
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="titan-failover-bench-")
    executions = os.path.join(root, "executions.log")
    script = os.path.join(root, "job.sh")
    with open(script, "w") as f:  # one line per execution, appended at once (O_APPEND: lines never mix)
        f.write('printf "%%s\\n" "$TITAN_JOB_ID" >> %s\n' % executions)
    load_before = os.getloadavg()
    pg = PostgresServer(durable=True).start()
    brokers, worker, streams, passed = [], None, [], False
    try:
        journal = pg.new_database()
        brokers = [Broker(root, "b1", free_port(), journal, args.ttl_ms),
                   Broker(root, "b2", free_port(), journal, args.ttl_ms)]
        hosts = ",".join("127.0.0.1:%d" % b.port for b in brokers)
        leader, standby = brokers
        leader.start()
        wait_for("the first broker leads", lambda: leader.led_at)
        standby.start()
        wait_for("the second broker stands by", standby.standing_by)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
        with open(os.path.join(root, "w1.stderr.log"), "ab") as err:
            worker = subprocess.Popen([TITAN, "--host", hosts, "worker", "--name", "w1", "--dir",
                                       os.path.join(root, "w1"), "--slots", "8"], stdout=subprocess.DEVNULL,
                                      stderr=err, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        streams = [Stream("one", hosts, script, False, args.rate), Stream("pipe", hosts, script, True, args.rate)]
        for s in streams:
            s.start()
        failovers = {s.name: [] for s in streams}
        takeovers = []  # kill -> the standby prints READY (it leads and serves)
        for k in range(args.kills):
            marks = [s.acks() for s in streams]
            wait_for("acknowledgements before kill %d" % (k + 1),
                     lambda: all(s.acks() >= m + 20 for s, m in zip(streams, marks)))
            killed_at = time.monotonic()
            leader.kill9()
            for s in streams:
                acked = wait_for("an acknowledgement by the new leader (kill %d, %s)" % (k + 1, s.name),
                                 lambda: s.first_ack_sent_after(killed_at))
                failovers[s.name].append(acked - killed_at)
            took_over = wait_for("the standby leads (kill %d)" % (k + 1), lambda: standby.led_at) - killed_at
            takeovers.append(took_over)
            leader.start()  # as a supervisor would: the killed broker comes back as the standby
            wait_for("the restarted broker stands by (kill %d)" % (k + 1), leader.standing_by)
            print("kill %2d: %s leads %.2f s after; first ack %s" % (
                k + 1, standby.name, took_over,
                ", ".join("%s %.2f s" % (n, v[-1]) for n, v in failovers.items())), flush=True)
            leader, standby = standby, leader
        for s in streams:
            s.stopping.set()
        for s in streams:
            s.join(120)

        acked = [j for s in streams for j, _, _ in s.acked]
        in_doubt = [j for s in streams for j in s.in_doubt]
        with TitanClient(host=hosts, timeout=10) as c:
            lost = [j for j in acked if c.get_job(j) is None]
            every = acked + [j for j in in_doubt if c.get_job(j) is not None]
            states = Counter(c.wait(j, timeout=600) for j in every)
        twice = int(pg.sql(journal, "SELECT count(*) FROM (SELECT id FROM jobs GROUP BY id HAVING count(*) > 1) d"))
        with open(executions) as f:
            ran = Counter(line.strip() for line in f if line.strip())
        dup_runs = sorted(j for j, n in ran.items() if n > 1)
        load_after = os.getloadavg()

        print("\nbroker failover, --lease-ttl-ms %d, client timeout 2 s, %d kills, %d cores, load average %.1f "
              "before / %.1f after" % (args.ttl_ms, args.kills, os.cpu_count(), load_before[0], load_after[0]))
        print("| from kill -9 of the leader to | p50 | p99 | min | max |")
        print("|---|---:|---:|---:|---:|")
        rows = [("the standby leads (READY)", takeovers)] + [
            ("first ack, one by one (submit_job)" if n == "one" else "first ack, pipelined (submit_async, window 16)",
             v) for n, v in failovers.items()]
        for name, values in rows:
            print("| %s | %.2f s | %.2f s | %.2f s | %.2f s |" % (
                name, statistics.median(values), pct(values, 99), min(values), max(values)))
        print("acknowledged %d, in doubt %d (no answer: not sent again), errors %d; lost %d; ids with two rows "
              "%d; duplicate executions %d; end states %s"
              % (len(acked), len(in_doubt), sum(len(s.errors) for s in streams), len(lost), twice,
                 len(dup_runs), dict(states)))
        for s in streams:
            for e in s.errors[:5]:
                print("  error (%s): %s" % (s.name, e))
        if lost or twice:
            raise SystemExit("FAILED: %d acknowledged jobs lost, %d ids recorded twice; logs in %s"
                             % (len(lost), twice, root))
        passed = True
    finally:
        for s in streams:
            s.stopping.set()
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        for b in brokers:
            b.stop()
        pg.stop()
        if passed:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("logs: %s" % root)


if __name__ == "__main__":
    main()
