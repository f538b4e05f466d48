"""Celery's side of the side-by-side benchmark: a Redis (broker and result backend) and 2 workers x 4
prefork processes, started fresh per workload; tasks run as Python functions (no-op), or run /bin/true or
the Python script with subprocess. Run with Celery's interpreter: see peer_bench.py.
"""
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads as W  # noqa: E402

TIMEOUT_S = 600


class Redis:
    """One Redis (broker and result backend) for the driver's run; Run flushes it for each workload."""

    def __init__(self, root):
        port = W.free_port()
        redis = shutil.which("redis-server") or W.fail("celery: redis-server is not installed (apt-get install redis-server)")
        self.proc = subprocess.Popen([redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", root], stdout=subprocess.DEVNULL)
        os.environ["PEER_REDIS_URL"] = "redis://127.0.0.1:%d/0" % port


class Run:
    """2 fresh Celery workers on the driver's Redis, flushed first."""

    def __init__(self, root, redis):
        os.makedirs(root, exist_ok=True)
        self.redis = redis.proc
        import celery_tasks
        self.tasks = celery_tasks
        W.wait_for(self._redis_up, 30, "redis")
        self.tasks.app.backend.client.flushall()
        celery = os.path.join(os.path.dirname(sys.executable), "celery")
        self.workers = [subprocess.Popen([celery, "-A", "celery_tasks", "worker", "--pool", "prefork",
                                          "--concurrency", str(W.SLOTS), "-n", "w%d@%%h" % i, "--loglevel", "WARNING",
                                          "--without-gossip", "--without-mingle", "--without-heartbeat"],
                                         cwd=HERE, env=dict(os.environ), stdout=subprocess.DEVNULL,
                                         stderr=open(os.path.join(root, "worker%d.log" % i), "w"))
                        for i in range(W.WORKERS)]
        W.wait_for(self._workers_up, 60, "celery workers")

    def _redis_up(self):
        try:
            return self.tasks.app.backend.client.ping()
        except Exception:
            return False

    def _workers_up(self):
        replies = self.tasks.app.control.ping(timeout=0.5) or []
        return len(replies) >= W.WORKERS

    def server_pids(self):
        return W.tree([self.redis.pid] + [w.pid for w in self.workers])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for w in self.workers:
            w.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.wait(30)
            except subprocess.TimeoutExpired:
                w.kill()


def get_all(results):
    return [r.get(timeout=TIMEOUT_S) for r in results]


def run(args):
    from celery import chord, group
    root = os.path.abspath(args.workdir)
    script = W.write_script(root)
    redis = Redis(root)
    for w in args.only:
        n = W.size(w, args.scale)
        wdir = os.path.join(root, w)
        with Run(wdir, redis) as r:
            t = r.tasks
            if w in ("noop_dag", "memory"):
                t0 = time.perf_counter()
                group(t.noop.s() for _ in range(n)).apply_async().get(timeout=TIMEOUT_S)
                elapsed = time.perf_counter() - t0
                if w == "noop_dag":
                    W.emit(w, jobs_per_s=W.rate(n, elapsed))
                else:
                    W.emit(w, mib=W.rss_mib(r.server_pids()), jobs=n)
            elif w in ("noop_each", "true", "python"):
                sig = {"noop_each": lambda: t.noop.delay(), "true": lambda: t.run.delay(["/bin/true"]),
                       "python": lambda: t.run.delay([sys.executable, script])}[w]
                t0 = time.perf_counter()
                get_all([sig() for _ in range(n)])
                W.emit(w, jobs_per_s=W.rate(n, time.perf_counter() - t0))
            elif w == "latency":
                samples = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    t.noop.delay().get(timeout=TIMEOUT_S)
                    samples.append(time.perf_counter() - t0)
                W.emit(w, **W.latency_summary(samples))
            elif w == "fan":
                t0 = time.perf_counter()
                t.noop.delay().get(timeout=TIMEOUT_S)
                chord(group(t.noop.s() for _ in range(n)), t.noop.s()).apply_async().get(timeout=TIMEOUT_S)
                W.emit(w, seconds=round(time.perf_counter() - t0, 4))
            elif w == "kill":
                records = os.path.join(wdir, "records")
                os.makedirs(records)
                tasks = ["k-%d" % i for i in range(n)]
                results = {k: t.kill_task.delay(records, k) for k in tasks}
                W.wait_for(lambda: len(os.listdir(records)) >= n // 4, TIMEOUT_S, "a quarter of the tasks")
                r.workers[0].send_signal(signal.SIGKILL)  # the worker's main process; its pool children follow
                succeeded = set()
                for k, res in results.items():
                    try:
                        res.get(timeout=60)
                        succeeded.add(k)
                    except Exception:
                        pass
                W.emit(w, **W.kill_verdict(records, tasks, succeeded))
    redis.proc.kill()
    redis.proc.wait()


if __name__ == "__main__":
    run(W.parse_args(__doc__))
    sys.stdout.flush()
    os._exit(0)  # Celery's result consumers complain at exit once Redis is gone
