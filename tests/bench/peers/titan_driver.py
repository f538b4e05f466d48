"""Titan's side of the side-by-side benchmark: a store, a broker and 2 workers x 4 slots as separate processes
on loopback (plaintext), started fresh per workload. No-op tasks run on workers with the no-op executor
(the job completes as the worker receives it); /bin/true, Python scripts and the kill workload on process
workers. One SDK call per task uses submit_many when the SDK has it (pipelined), else submit_job.

Run with Titan's interpreter (the checkout's .venv): see peer_bench.py.
"""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path[:0] = [HERE, os.path.join(REPO, "sdk", "python"), os.path.join(REPO, "tests", "python")]
import workloads as W  # noqa: E402
from cluster import Cluster  # noqa: E402
from titan_sdk import TitanClient, TitanJob  # noqa: E402

TIMEOUT_S = 600


class Run:
    """One fresh cluster under `root`; `noop`: workers with the no-op executor."""

    def __init__(self, root, noop, broker_args=()):
        executor = ["--executor", "noop"] if noop else []
        workers = [("w%d" % (i + 1), executor) for i in range(W.WORKERS)]  # Cluster gives each --slots 4
        self.cluster = Cluster(root, workers=workers, broker_args=list(broker_args)).start()
        self.client = TitanClient(port=self.cluster.port, timeout=120)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()
        self.cluster.stop()

    def server_pids(self):
        c = self.cluster
        return W.tree([p.proc.pid for p in [c.store, c.broker] + list(c.workers.values())])


def command(job_id, path="/bin/true"):
    return TitanJob(job_id, command=path)


def submit_each(client, jobs):
    many = getattr(client, "submit_many", None)
    return many(jobs) if many is not None else [client.submit_job(j) for j in jobs]


def ended(client):
    stats = client.get_stats()
    return stats["completed"] + stats["failed"]


def wait_all(client, ids):
    """Every job's final state (one wait each: for the check after the clock stopped)."""
    states = {job_id: client.wait(job_id, TIMEOUT_S) for job_id in ids}
    bad = {k: v for k, v in states.items() if v != "COMPLETED"}
    if bad:
        W.fail("titan: %d jobs did not complete, e.g. %s" % (len(bad), sorted(bad.items())[:3]))
    return states


def timed(client, submit):
    """Seconds from the first submission until the broker counts every job ended (its counters, asked every
    5 ms: as ray.get of a list waits for all); each job is then checked COMPLETED outside the clock."""
    before = ended(client)
    t0 = time.perf_counter()
    ids = submit()
    deadline = time.monotonic() + TIMEOUT_S
    while ended(client) < before + len(ids):
        if time.monotonic() > deadline:
            W.fail("titan: jobs still running after %d s" % TIMEOUT_S)
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    wait_all(client, ids)
    return elapsed


def warm_up_python(client):
    """Before the clock, as the Ray driver waits for its worker pool: until each worker has forked a .py job
    from its warm interpreter (started with the worker; a job that arrives before it is up starts cold)."""
    probe = "import sys\nprint('WARM' if 'titan_sdk' in sys.modules else 'COLD')\n"
    warm, n = set(), 0
    deadline = time.monotonic() + TIMEOUT_S
    while len(warm) < W.WORKERS:
        if time.monotonic() > deadline:
            W.fail("titan: workers %s never ran a .py job warm" % sorted(warm))
        ids = submit_each(client, [TitanJob("warm-up-%d" % (n + i), filename="probe.py", content=probe)
                                   for i in range(W.WORKERS * W.SLOTS)])
        n += len(ids)
        for job_id in ids:
            if client.wait(job_id, TIMEOUT_S) == "COMPLETED" and "WARM" in client.fetch_logs(job_id):
                warm.add(client.get_job(job_id).worker)


def dag_rate(client, jobs, name):
    def submit():
        client.submit_dag(name, jobs)
        return client.last_dag
    t0 = time.perf_counter()
    dag = client.wait_dag(submit(), TIMEOUT_S)
    elapsed = time.perf_counter() - t0
    if dag["state"] != "COMPLETED":
        W.fail("titan: DAG %s ended %s" % (name, dag["state"]))
    return elapsed


def run(args):
    root = os.path.abspath(args.workdir)
    for w in args.only:
        n = W.size(w, args.scale)
        wdir = os.path.join(root, w)
        os.makedirs(wdir)
        if w in ("noop_dag", "memory"):
            with Run(wdir, noop=True) as r:
                jobs = [command("%s-%d" % (w, i)) for i in range(n)]
                elapsed = dag_rate(r.client, jobs, w)
                if w == "noop_dag":
                    W.emit(w, jobs_per_s=W.rate(n, elapsed))
                else:
                    W.emit(w, mib=W.rss_mib(r.server_pids()), jobs=n)
        elif w in ("noop_each", "true"):
            with Run(wdir, noop=(w == "noop_each")) as r:
                jobs = [command("%s-%d" % (w, i)) for i in range(n)]
                elapsed = timed(r.client, lambda: submit_each(r.client, jobs))
                W.emit(w, jobs_per_s=W.rate(n, elapsed),
                       path="submit_many" if hasattr(r.client, "submit_many") else "submit_job")
        elif w == "python":
            with Run(wdir, noop=False) as r:
                warm_up_python(r.client)
                jobs = [TitanJob("py-%d" % i, filename="one_line.py", content=W.ONE_LINE_SCRIPT) for i in range(n)]
                elapsed = timed(r.client, lambda: submit_each(r.client, jobs))
                W.emit(w, jobs_per_s=W.rate(n, elapsed))
        elif w == "latency":
            with Run(wdir, noop=True) as r:
                samples = []
                for i in range(n):
                    t0 = time.perf_counter()
                    r.client.wait(r.client.submit_job(command("lat-%d" % i)), TIMEOUT_S)
                    samples.append(time.perf_counter() - t0)
                W.emit(w, **W.latency_summary(samples))
        elif w == "fan":
            with Run(wdir, noop=True) as r:
                jobs = [command("root")] + [TitanJob("mid-%d" % i, command="/bin/true", parents=["root"])
                                            for i in range(n)]
                jobs.append(TitanJob("sink", command="/bin/true", parents=["mid-%d" % i for i in range(n)]))
                W.emit(w, seconds=round(dag_rate(r.client, jobs, "fan"), 4))
        elif w == "kill":
            kill(wdir, n)


def kill(wdir, n):
    records = os.path.join(wdir, "records")
    os.makedirs(records)
    script = W.kill_task_script(records, "$TITAN_JOB_ID")
    # Failure detection as an operator would tune it for a quick takeover: 200 ms heartbeats, 5 missed.
    with Run(os.path.join(wdir, "cluster"), noop=False, broker_args=["--heartbeat-ms", "200", "--liveness", "5"]) as r:
        tasks = ["k-%d" % i for i in range(n)]
        ids = submit_each(r.client, [TitanJob(t, filename="task.sh", content=script) for t in tasks])
        W.wait_for(lambda: len(os.listdir(records)) >= n // 4, TIMEOUT_S, "a quarter of the tasks")
        victim = r.cluster.workers["w1"]
        os.kill(victim.proc.pid, signal.SIGKILL)
        victim.proc.wait()
        states = {}
        for job_id in ids:
            states[job_id] = r.client.wait(job_id, TIMEOUT_S)
        succeeded = {t for t, s in states.items() if s == "COMPLETED"}
        W.emit("kill", **W.kill_verdict(records, tasks, succeeded))


if __name__ == "__main__":
    run(W.parse_args(__doc__))
