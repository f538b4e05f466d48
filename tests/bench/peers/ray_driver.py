"""Ray's side of the side-by-side benchmark: a local Ray (ray.init, 8 CPUs: 2 workers x 4 slots), started
fresh per workload; tasks are remote functions (no-op), or run /bin/true or the Python script with
subprocess. Run with Ray's interpreter: see peer_bench.py.
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import workloads as W  # noqa: E402
import ray  # noqa: E402

TIMEOUT_S = 600


@ray.remote
def noop(*_):
    return None


@ray.remote
def run_argv(argv):
    return subprocess.run(argv, check=True).returncode


@ray.remote(max_retries=3)
def kill_task(record_dir, task):
    time.sleep(W.KILL_TASK_S)
    W.record_completion(record_dir, task)
    return os.getpid()


def run(args):
    root = os.path.abspath(args.workdir)
    script = W.write_script(root)
    for w in args.only:
        n = W.size(w, args.scale)
        ray.init(num_cpus=W.WORKERS * W.SLOTS, include_dashboard=False, log_to_driver=False,
                 _temp_dir=os.path.join("/tmp", "ray-peer-%d" % os.getpid()))
        try:
            noop.remote()  # the worker pool is up before the clock starts
            ray.get(noop.remote())
            if w in ("noop_dag", "noop_each", "memory"):
                t0 = time.perf_counter()
                ray.get([noop.remote() for _ in range(n)], timeout=TIMEOUT_S)
                elapsed = time.perf_counter() - t0
                if w == "memory":
                    W.emit(w, mib=W.rss_mib(W.tree([os.getpid()]) - {os.getpid()}), jobs=n)
                else:
                    W.emit(w, jobs_per_s=W.rate(n, elapsed))
            elif w in ("true", "python"):
                argv = ["/bin/true"] if w == "true" else [sys.executable, script]
                t0 = time.perf_counter()
                ray.get([run_argv.remote(argv) for _ in range(n)], timeout=TIMEOUT_S)
                W.emit(w, jobs_per_s=W.rate(n, time.perf_counter() - t0))
            elif w == "latency":
                samples = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    ray.get(noop.remote(), timeout=TIMEOUT_S)
                    samples.append(time.perf_counter() - t0)
                W.emit(w, **W.latency_summary(samples))
            elif w == "fan":
                t0 = time.perf_counter()
                first = noop.remote()
                ray.get(noop.remote(*[noop.remote(first) for _ in range(n)]), timeout=TIMEOUT_S)
                W.emit(w, seconds=round(time.perf_counter() - t0, 4))
            elif w == "kill":
                records = os.path.join(root, "kill-records")
                os.makedirs(records)
                tasks = ["k-%d" % i for i in range(n)]
                refs = {k: kill_task.remote(records, k) for k in tasks}
                W.wait_for(lambda: len(os.listdir(records)) >= n // 4, TIMEOUT_S, "a quarter of the tasks")
                # One of the worker processes that ran a task: Ray's unit of "a worker".
                victim = ray.get(refs[tasks[0]])
                os.kill(victim, signal.SIGKILL)
                succeeded = set()
                for k, ref in refs.items():
                    try:
                        ray.get(ref, timeout=TIMEOUT_S)
                        succeeded.add(k)
                    except Exception:
                        pass
                W.emit(w, **W.kill_verdict(records, tasks, succeeded))
        finally:
            ray.shutdown()


if __name__ == "__main__":
    run(W.parse_args(__doc__))
