"""What every driver of the side-by-side benchmark measures, and the helpers they share. Standard library
only: each driver runs under its own system's interpreter (Titan's, Celery's, Ray's, Dask's venv).

A driver is run as `python <system>_driver.py --workdir DIR --scale S --only W,W` and prints one JSON object
per workload on its own line: {"workload": NAME, ...numbers...}. Every system runs 2 workers x 4 slots.
"""
import argparse
import json
import os
import statistics
import sys
import time

# name -> (how many tasks at scale 1, what it measures)
WORKLOADS = {
    "noop_dag": (10_000, "no-op tasks submitted as one DAG / batch (jobs/s)"),
    "noop_each": (10_000, "no-op tasks, one SDK call per task (jobs/s)"),
    "true": (2_000, "/bin/true jobs (jobs/s)"),
    "python": (200, "one-line Python script jobs (jobs/s)"),
    "latency": (300, "sequential submit -> result of a no-op task (p50 / p99 ms)"),
    "fan": (1_000, "DAG 1 -> N -> 1 of no-op tasks (s)"),
    "memory": (10_000, "server-side memory after N no-op tasks (MiB)"),
    "kill": (400, "50 ms tasks, one worker killed (kill -9) a quarter in: lost / completed twice"),
}
WORKERS, SLOTS = 2, 4
ONE_LINE_SCRIPT = "x = sum(range(100))\n"
KILL_TASK_S = 0.05


def parse_args(doc):
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--workdir", required=True, help="a fresh directory for this run's files")
    p.add_argument("--scale", type=float, default=1.0, help="multiplies every workload's size")
    p.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    args = p.parse_args()
    args.only = [w for w in args.only.split(",") if w]
    for w in args.only:
        if w not in WORKLOADS:
            p.error("unknown workload %r; known: %s" % (w, ", ".join(WORKLOADS)))
    return args


def size(workload, scale):
    return max(4, int(WORKLOADS[workload][0] * scale))


def emit(workload, **numbers):
    print(json.dumps(dict(workload=workload, **numbers)), flush=True)


def rate(n, seconds):
    return round(n / seconds, 1)


def latency_summary(samples_s):
    samples = sorted(samples_s)
    return dict(p50_ms=round(statistics.median(samples) * 1e3, 3),
                p99_ms=round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3, 3))


def write_script(workdir, name="one_line.py"):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(ONE_LINE_SCRIPT)
    return path


def kill_task_script(record_dir, task_expr):
    """The kill workload's task as a shell line: sleep, then record one completion in `record_dir`
    (one file per completion, so two completions of one task are two files); `task_expr` is the shell
    word naming the task (e.g. "$TITAN_JOB_ID")."""
    return 'sleep %g; mktemp "%s/%s.XXXXXX" >/dev/null\n' % (KILL_TASK_S, record_dir, task_expr)


def record_completion(record_dir, task):
    """The kill workload's completion record from Python: one new file per completion."""
    import tempfile
    os.close(tempfile.mkstemp(prefix=task + ".", dir=record_dir)[0])


def kill_verdict(record_dir, tasks, succeeded):
    """lost: tasks without a successful result or without any completion; twice: tasks completed more than once."""
    done = {}
    for name in os.listdir(record_dir):
        task = name.rsplit(".", 1)[0]
        done[task] = done.get(task, 0) + 1
    lost = sum(1 for t in tasks if t not in succeeded or done.get(t, 0) == 0)
    twice = sum(1 for t in tasks if done.get(t, 0) > 1)
    return dict(lost=lost, twice=twice)


def wait_for(predicate, deadline_s, what):
    """Waits (bounded) until predicate() is true; raises naming `what` when the deadline passes."""
    end = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError("timed out after %g s waiting for %s" % (deadline_s, what))
        time.sleep(0.01)


# ---- process trees, for the memory workload -------------------------------------------------------------

def children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.extend(int(c) for c in f.read().split())
    except OSError:
        pass
    return out


def tree(pids):
    seen, todo = set(), list(pids)
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children(pid))
    return seen


def rss_mib(pids):
    """The summed resident set of `pids` (MiB; shared pages count once per process, as `ps` shows)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fail(msg):
    print(msg, file=sys.stderr, flush=True)
    sys.exit(2)
