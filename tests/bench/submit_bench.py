"""Submission benchmark through the Python SDK (issue 18), in interleaved rounds, one run:

- N no-op tasks, one submission per task: submit_job in a loop against submit_many (pipelined, up to 32 jobs per
  message) and submit_many with batch=1 (a JOB_SUBMIT per job), end to end (submitted -> all COMPLETED), with
  Titan's own DAG rate (the same N jobs as one submit_dag) as reference;
- sequential submit -> result latency (submit_job then wait, one job at a time) p50 / p99, on the default journal
  (each commit fsynced) and on a broker started with --journal-sync normal (commits to the OS: docs/operations.md,
  "Durability"), which shows what the two fsyncs on that path cost;
- M `/bin/true` command jobs through the SDK (submit_many) against raw posix_spawn of /bin/true, 8 in flight,
  measured in the same round with the environment and /dev/null stdio a job gets (and, for context, with an
  empty environment, which the dynamic loader starts faster); and the same jobs on workers started with
  --no-cgroups (what per-job cgroups cost), with batch=1, and as one DAG submission (what a submission per job
  costs); for each, the CPU time per job of every process on the path (client, broker, workers' loops, their
  reapers, the jobs), and how many of the machine's cores that kept busy.

Four clusters started with `titan up` (2 workers x 4 slots each, plaintext on loopback): one with the no-op
executor, two running processes (one's workers without cgroups). Ratios are printed; aims (issue 18) for context, never pass/fail.

Run: .venv/bin/python tests/bench/submit_bench.py [--tasks N] [--true-jobs M] [--latency K] [--rounds R]
"""
import argparse
import atexit
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
sys.path.insert(0, os.path.join(REPO, "tests", "bench", "peers"))
from titan_sdk import TitanClient, TitanJob  # noqa: E402
from workloads import tree  # noqa: E402

TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))


class Up:
    """`titan up` on its own port range; stop() sends SIGINT."""

    def __init__(self, executor: str, port: int, workers: int = 2, slots: int = 4, worker_flags=(), up_flags=()):
        """`worker_flags`: the workers are started here with these flags (`titan up` starts none); `up_flags`: more
        flags for `titan up`."""
        self.dir = tempfile.mkdtemp(prefix="titan-submit-bench-")
        # Removed when the benchmark ends, not between rounds: ext4 without a journal skips the inodes freed in the
        # last seconds when it allocates (recently_deleted, seen in worker profiles here), so a round that followed the
        # removal of thousands of job folders would pay for it in its jobs' mkdirs.
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)
        self.proc = subprocess.Popen([TITAN, "up", "--dir", self.dir, "--port", str(port), "--workers",
                                      "0" if worker_flags else str(workers), "--executor", executor, "--slots",
                                      str(slots), "--insecure", "--no-dashboard"] + list(up_flags),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.workers = [subprocess.Popen([TITAN, "--host", "127.0.0.1", "--port", str(port), "worker", "--name", "w%d" % i,
                                          "--dir", os.path.join(self.dir, "w%d" % i), "--slots", str(slots)]
                                         + list(worker_flags), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        for i in range(workers if worker_flags else 0)]
        for line in self.proc.stdout:
            if "Ctrl-C stops everything" in line:
                break
        else:
            raise SystemExit("titan up did not start; see " + self.dir)
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.client = TitanClient(port=port, timeout=120)
        while len(self.client.workers()) < workers:  # titan up waits for its own workers; these start on their own
            time.sleep(0.05)

    def completed(self) -> int:
        stats = self.client.get_stats()
        return stats["completed"] + stats["failed"]

    def until_completed(self, target: int) -> None:
        """Returns once `target` jobs have ended (COMPLETED + FAILED + DEAD), asking every 5 ms."""
        while self.completed() < target:
            time.sleep(0.005)

    def cpu(self) -> dict:
        """CPU seconds so far of the cluster's processes by role: broker, store, workers (their loops' threads),
        reapers, and jobs (the processes the workers started and reaped)."""
        out = dict.fromkeys(ROLES, 0.0)
        for pid in tree([self.proc.pid] + [w.pid for w in self.workers]):
            seen = _proc_cpu(pid)
            if seen is None:
                continue
            role, own, reaped = seen
            if role in out:
                out[role] += own
            if role == "workers":
                out["jobs"] += reaped
        return out

    def stop(self) -> None:
        self.client.close()
        for w in self.workers:
            w.send_signal(15)
            w.wait(timeout=60)
        self.proc.send_signal(2)
        self.proc.wait(timeout=60)


ROLES = ("client", "broker", "store", "workers", "reapers", "jobs")
_TICK = os.sysconf("SC_CLK_TCK")


def _proc_cpu(pid: int):
    """(role, own CPU s, its reaped children's CPU s) of a live process of a cluster; None once it is gone. The
    role is its titan subcommand: broker, store, worker, worker-reaper (up: the launcher)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            words = set(a.decode() for a in f.read().split(b"\0")[1:])
    except (OSError, ValueError):
        return None
    role = ("reapers" if "worker-reaper" in words else "workers" if "worker" in words else
            "broker" if "broker" in words else "store" if "store" in words else "up")
    own = (int(fields[11]) + int(fields[12])) / _TICK
    reaped = (int(fields[13]) + int(fields[14])) / _TICK
    return role, own, reaped


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measured_rate(up: Up, n: int, submit):
    """rate(), and the CPU milliseconds per job each role spent meanwhile (client: this process, its event feed
    thread and the 5 ms polls of the broker's counters included), with "cores" the CPU seconds per second."""
    before, client0, t0 = up.cpu(), _self_cpu(), time.perf_counter()
    jobs_per_s = rate(up, n, submit)
    elapsed, after = time.perf_counter() - t0, up.cpu()
    per_job = {role: (after[role] - before[role]) * 1e3 / n for role in ROLES if role != "client"}
    per_job["client"] = (_self_cpu() - client0) * 1e3 / n
    per_job["cores"] = sum(per_job[role] for role in ROLES) * n / 1e3 / elapsed
    return jobs_per_s, per_job


def rate(up: Up, n: int, submit) -> float:
    """Jobs per second from the first submission to the last job's end."""
    target = up.completed() + n
    t0 = time.perf_counter()
    submit()
    up.until_completed(target)
    return n / (time.perf_counter() - t0)


def latency(up: Up, n: int, prefix: str):
    samples = []
    for i in range(n):
        t0 = time.perf_counter()
        job_id = up.client.submit_job(TitanJob("%s-%d" % (prefix, i), command="true"))
        state = up.client.wait(job_id, 60)
        samples.append(time.perf_counter() - t0)
        assert state == "COMPLETED", state
    return samples


def raw_spawn(n: int, in_flight: int = 8, env=None) -> float:
    """posix_spawn + waitpid of /bin/true, `in_flight` at once, stdio on /dev/null: jobs per second. `env`: the
    environment it gets (default: this process's, as a job gets its worker's; with {} the dynamic loader has
    less to read and the spawn is faster, a reference no job can meet)."""
    devnull = os.open(os.devnull, os.O_RDWR)
    actions = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
    t0 = time.perf_counter()
    running, started = set(), 0
    try:
        while started < n or running:
            while started < n and len(running) < in_flight:
                running.add(os.posix_spawn("/bin/true", ["/bin/true"], os.environ if env is None else env,
                                           file_actions=actions))
                started += 1
            pid, _ = os.wait()
            running.discard(pid)
    finally:
        os.close(devnull)
    return n / (time.perf_counter() - t0)


def measured_raw_spawn(n: int):
    """raw_spawn(n), and its CPU milliseconds per job: the spawning process's ("client") and the programs'
    ("jobs"), with "cores" as in measured_rate."""
    before, children0, t0 = _self_cpu(), resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    jobs_per_s = raw_spawn(n)
    elapsed, children1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    per_job = dict.fromkeys(ROLES, 0.0)
    per_job["client"] = (_self_cpu() - before) * 1e3 / n
    per_job["jobs"] = (children1.ru_utime + children1.ru_stime - children0.ru_utime - children0.ru_stime) * 1e3 / n
    per_job["cores"] = (per_job["client"] + per_job["jobs"]) * n / 1e3 / elapsed
    return jobs_per_s, per_job


def med(xs):
    return statistics.median(xs)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10000)
    p.add_argument("--true-jobs", type=int, default=2000)
    p.add_argument("--latency", type=int, default=1000, help="sequential submit->result samples per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--window", type=int, default=64)
    a = p.parse_args()
    base = 20000 + os.getpid() % 2000 * 20  # titan up takes the port and the few after it
    noop, proc = Up("noop", base), Up("process", base + 10)
    bare = Up("process", base + 20, worker_flags=["--no-cgroups"])  # where the time of a /bin/true job goes
    os_sync = Up("noop", base + 30, up_flags=["--journal-sync", "normal"])  # what the fsyncs cost the latency
    res = {k: [] for k in ("sync", "many", "many1", "dag", "true", "true1", "true_dag", "bare", "spawn",
                           "spawn_noenv")}
    cpu = {k: [] for k in ("true", "true1", "true_dag", "bare", "spawn")}  # CPU ms per job by role, per round
    lat, lat_os = [], []
    try:
        for r in range(a.rounds):
            n = a.tasks
            jobs = lambda tag: [TitanJob("r%d-%s-%d" % (r, tag, i), command="true") for i in range(n)]  # noqa: E731
            sync_jobs, many_jobs, many1_jobs, dag_jobs = jobs("sync"), jobs("many"), jobs("many1"), jobs("dag")
            res["sync"].append(rate(noop, n, lambda: [noop.client.submit_job(j) for j in sync_jobs]))
            res["many"].append(rate(noop, n, lambda: noop.client.submit_many(many_jobs, window=a.window)))
            res["many1"].append(rate(noop, n, lambda: noop.client.submit_many(many1_jobs, window=a.window, batch=1)))
            res["dag"].append(rate(noop, n, lambda: noop.client.submit_dag("r%d-dag" % r, dag_jobs)))
            lat.extend(latency(noop, a.latency, "r%d-lat" % r))
            lat_os.extend(latency(os_sync, a.latency, "r%d-lat" % r))
            true_jobs = [TitanJob("r%d-true-%d" % (r, i), command="/bin/true") for i in range(a.true_jobs)]
            true1_jobs = [TitanJob("r%d-true1-%d" % (r, i), command="/bin/true") for i in range(a.true_jobs)]
            true_dag = [TitanJob("r%d-tdag-%d" % (r, i), command="/bin/true") for i in range(a.true_jobs)]
            runs = (("spawn", lambda: measured_raw_spawn(a.true_jobs)),
                    ("true", lambda: measured_rate(proc, a.true_jobs,
                                                   lambda: proc.client.submit_many(true_jobs, window=a.window))),
                    ("true1", lambda: measured_rate(proc, a.true_jobs, lambda: proc.client.submit_many(
                        true1_jobs, window=a.window, batch=1))),
                    ("true_dag", lambda: measured_rate(proc, a.true_jobs,
                                                       lambda: proc.client.submit_dag("r%d-tdag" % r, true_dag))),
                    ("bare", lambda: measured_rate(bare, a.true_jobs,
                                                   lambda: bare.client.submit_many(true_jobs, window=a.window))))
            for key, run in runs:
                jobs_per_s, per_job = run()
                res[key].append(jobs_per_s)
                cpu[key].append(per_job)
            res["spawn_noenv"].append(raw_spawn(a.true_jobs, env={}))
            print("round %d: sync %.0f, submit_many %.0f, DAG %.0f jobs/s; /bin/true %.0f (no cgroups %.0f) vs raw "
                  "spawn %.0f jobs/s" % (r + 1, res["sync"][-1], res["many"][-1], res["dag"][-1], res["true"][-1],
                                          res["bare"][-1], res["spawn"][-1]), flush=True)
    finally:
        for up in (noop, proc, bare, os_sync):
            up.stop()
    lat.sort()
    lat_os.sort()
    n = a.tasks
    print()
    print("| workload (2 workers x 4 slots, medians of %d rounds) | jobs/s | reference | ratio | aim |" % a.rounds)
    print("|---|---:|---|---:|---|")
    print("| %d no-op tasks, submit_job per task | %.0f | DAG of %d: %.0f | %.2f | |"
          % (n, med(res["sync"]), n, med(res["dag"]), med(res["sync"]) / med(res["dag"])))
    print("| %d no-op tasks, submit_many (window %d) | %.0f | DAG of %d: %.0f | %.2f | >= 0.5 |"
          % (n, a.window, med(res["many"]), n, med(res["dag"]), med(res["many"]) / med(res["dag"])))
    print("| %d no-op tasks, submit_many, batch 1 (a JOB_SUBMIT per job) | %.0f | DAG of %d: %.0f | %.2f | |"
          % (n, med(res["many1"]), n, med(res["dag"]), med(res["many1"]) / med(res["dag"])))
    print("| submit_many / submit_job per task | | | %.2f | |" % (med(res["many"]) / med(res["sync"])))
    print("| submit_many / submit_many with batch 1 | | | %.2f | |" % (med(res["many"]) / med(res["many1"])))
    print("| %d `/bin/true` jobs, submit_many | %.0f | raw posix_spawn, 8 in flight: %.0f | %.2f | >= 0.7 |"
          % (a.true_jobs, med(res["true"]), med(res["spawn"]), med(res["true"]) / med(res["spawn"])))
    print("| %d `/bin/true` jobs, submit_many, workers --no-cgroups | %.0f | raw posix_spawn, 8 in flight: %.0f | %.2f | |"
          % (a.true_jobs, med(res["bare"]), med(res["spawn"]), med(res["bare"]) / med(res["spawn"])))
    print("| the same `/bin/true` jobs against posix_spawn with an empty environment | %.0f | %.0f | %.2f | |"
          % (med(res["true"]), med(res["spawn_noenv"]), med(res["true"]) / med(res["spawn_noenv"])))
    print("| the same `/bin/true` jobs, submit_many, batch 1 | %.0f | raw posix_spawn, 8 in flight: %.0f | %.2f | |"
          % (med(res["true1"]), med(res["spawn"]), med(res["true1"]) / med(res["spawn"])))
    print("| the same `/bin/true` jobs as one DAG (one submission) | %.0f | raw posix_spawn, 8 in flight: %.0f | %.2f | |"
          % (med(res["true_dag"]), med(res["spawn"]), med(res["true_dag"]) / med(res["spawn"])))
    print()
    print("Where a `/bin/true` job's CPU goes (ms per job, medians of %d rounds; cores: CPU seconds per second of the "
          "run, of %d)" % (a.rounds, os.cpu_count()))
    print()
    print("| | " + " | ".join(ROLES) + " | all | cores |")
    print("|---|" + "---:|" * (len(ROLES) + 2))
    names = {"spawn": "raw posix_spawn", "true": "Titan, submit_many", "true1": "Titan, submit_many, batch 1",
             "true_dag": "Titan, one DAG",
             "bare": "Titan, submit_many, --no-cgroups"}
    for key, name in names.items():
        cells = [med([c[role] for c in cpu[key]]) for role in ROLES]
        print("| %s | %s | %.3f | %.2f |" % (name, " | ".join("%.3f" % x for x in cells), sum(cells),
                                            med([c["cores"] for c in cpu[key]])))
    print()
    print("sequential submit -> result (no-op executor, %d samples): p50 %.3f ms, p99 %.3f ms (aim p50 <= 0.6)"
          % (len(lat), med(lat) * 1e3, lat[int(len(lat) * 0.99)] * 1e3))
    print("  the same, broker --journal-sync normal (no fsync per commit): p50 %.3f ms, p99 %.3f ms"
          % (med(lat_os) * 1e3, lat_os[int(len(lat_os) * 0.99)] * 1e3))


if __name__ == "__main__":
    main()
