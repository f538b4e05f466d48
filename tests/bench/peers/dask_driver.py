"""Dask's side of the side-by-side benchmark: a `dask scheduler` and 2 `dask worker` processes x 4 threads,
started fresh per workload; tasks are functions (no-op), or run /bin/true or the Python script with
subprocess. Run with Dask's interpreter: see peer_bench.py.
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads as W  # noqa: E402
from distributed import Client  # noqa: E402

TIMEOUT_S = 600


def noop(*_):
    return None


def run_argv(argv, _i):
    return subprocess.run(argv, check=True).returncode


def kill_task(record_dir, task):
    time.sleep(W.KILL_TASK_S)
    W.record_completion(record_dir, task)
    return task


class Run:
    def __init__(self, root):
        os.makedirs(root, exist_ok=True)
        bin_dir = os.path.dirname(sys.executable)
        address = "tcp://127.0.0.1:%d" % W.free_port()
        log = open(os.path.join(root, "dask.log"), "w")
        env = dict(os.environ, PYTHONPATH=HERE)  # the scheduler unpickles the tasks too
        self.scheduler = subprocess.Popen([os.path.join(bin_dir, "dask"), "scheduler", "--host", "127.0.0.1",
                                           "--port", address.rsplit(":", 1)[1], "--no-dashboard"],
                                          stdout=log, stderr=log, cwd=root, env=env)
        self.workers = [subprocess.Popen([os.path.join(bin_dir, "dask"), "worker", address, "--nthreads",
                                          str(W.SLOTS), "--nworkers", "1", "--no-dashboard",
                                          "--local-directory", root],
                                         stdout=log, stderr=log, cwd=HERE, env=env)
                        for _ in range(W.WORKERS)]
        self.client = Client(address, timeout=60)
        self.client.wait_for_workers(W.WORKERS, timeout=60)

    def server_pids(self):
        return W.tree([self.scheduler.pid] + [w.pid for w in self.workers])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()
        for p in self.workers + [self.scheduler]:
            p.terminate()
        for p in self.workers + [self.scheduler]:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def run(args):
    root = os.path.abspath(args.workdir)
    script = W.write_script(root)
    for w in args.only:
        n = W.size(w, args.scale)
        wdir = os.path.join(root, w)
        with Run(wdir) as r:
            c = r.client
            if w in ("noop_dag", "memory"):
                t0 = time.perf_counter()
                c.gather(c.map(noop, range(n), pure=False), errors="raise")
                elapsed = time.perf_counter() - t0
                if w == "noop_dag":
                    W.emit(w, jobs_per_s=W.rate(n, elapsed))
                else:
                    W.emit(w, mib=W.rss_mib(r.server_pids()), jobs=n)
            elif w == "noop_each":
                t0 = time.perf_counter()
                c.gather([c.submit(noop, i, pure=False) for i in range(n)])
                W.emit(w, jobs_per_s=W.rate(n, time.perf_counter() - t0))
            elif w in ("true", "python"):
                argv = ["/bin/true"] if w == "true" else [sys.executable, script]
                t0 = time.perf_counter()
                c.gather([c.submit(run_argv, argv, i, pure=False) for i in range(n)])
                W.emit(w, jobs_per_s=W.rate(n, time.perf_counter() - t0))
            elif w == "latency":
                samples = []
                for i in range(n):
                    t0 = time.perf_counter()
                    c.submit(noop, i, pure=False).result(timeout=TIMEOUT_S)
                    samples.append(time.perf_counter() - t0)
                W.emit(w, **W.latency_summary(samples))
            elif w == "fan":
                t0 = time.perf_counter()
                first = c.submit(noop, -1, pure=False)
                mids = [c.submit(noop, first, i, pure=False) for i in range(n)]
                c.submit(noop, *mids, pure=False).result(timeout=TIMEOUT_S)
                W.emit(w, seconds=round(time.perf_counter() - t0, 4))
            elif w == "kill":
                records = os.path.join(wdir, "records")
                os.makedirs(records)
                tasks = ["k-%d" % i for i in range(n)]
                futures = {k: c.submit(kill_task, records, k, pure=False) for k in tasks}
                W.wait_for(lambda: len(os.listdir(records)) >= n // 4, TIMEOUT_S, "a quarter of the tasks")
                for pid in W.tree([r.workers[0].pid]):  # the worker's nanny and its worker process
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                succeeded = set()
                for k, f in futures.items():
                    try:
                        f.result(timeout=TIMEOUT_S)
                        succeeded.add(k)
                    except Exception:
                        pass
                W.emit(w, **W.kill_verdict(records, tasks, succeeded))


if __name__ == "__main__":
    run(W.parse_args(__doc__))
