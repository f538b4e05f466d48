"""DAG resolution benchmark: a 10,000-job fan-out/fan-in of no-op jobs end to end, the broker's CPU
per edge, and chain latency per edge for real process jobs. Starts its own cluster with `titan up`.

Run: .venv/bin/python tests/bench/dag_bench.py [--fan N] [--chain N]
Reference printed beside the numbers: the same client submitting a DAG with no edges (N independent
no-op jobs), measured in the same run, so the cost of the edges shows as a ratio.
"""
import argparse
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
from titan_sdk import TitanClient, TitanJob  # noqa: E402

TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))


class Up:
    """`titan up` on a free port range; stops it (SIGINT) on exit."""

    def __init__(self, executor, slots, workers=2):
        self.dir = tempfile.mkdtemp(prefix="titan-bench-")
        # Removed when the benchmark ends, not between rounds: ext4 without a journal skips the inodes freed in the
        # last seconds when it allocates (recently_deleted, seen in worker profiles here), so a round that followed the
        # removal of thousands of job folders would pay for it in its jobs' mkdirs.
        atexit.register(shutil.rmtree, self.dir, ignore_errors=True)
        self.port = 20000 + os.getpid() % 5000 * 4 + (1 if executor == "process" else 0) * 2
        self.proc = subprocess.Popen(
            [TITAN, "up", "--dir", self.dir, "--port", str(self.port), "--workers", str(workers),
             "--executor", executor, "--slots", str(slots)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in self.proc.stdout:
            if "Titan is up" in line:
                break
        else:
            raise SystemExit("titan up did not start; see " + self.dir)
        self.client = TitanClient(port=self.port, timeout=120)

    def broker_cpu_s(self):
        out = subprocess.run(["pgrep", "-f", f"titan broker --port {self.port}"], capture_output=True, text=True)
        pid = out.stdout.split()[0]
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(timeout=60)


def timed_dag(up, name, jobs, last):
    cpu0 = up.broker_cpu_s()
    t0 = time.perf_counter()
    up.client.submit_dag(name, jobs)
    state = up.client.wait(last, timeout=300)
    elapsed = time.perf_counter() - t0
    assert state == "COMPLETED", state
    return elapsed, up.broker_cpu_s() - cpu0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fan", type=int, default=10000)
    ap.add_argument("--chain", type=int, default=50)
    a = ap.parse_args()
    script = os.path.join(tempfile.mkdtemp(), "noop.sh")
    open(script, "w").write("exit 0\n")

    up = Up("noop", slots=1024)  # titan up allows at most 1024 slots per worker
    try:
        n = a.fan
        flat = [TitanJob(job_id=f"flat{i}", filename=script) for i in range(n + 2)]
        flat_s, flat_cpu = timed_dag(up, "flat", flat, f"flat{n + 1}")
        fan = [TitanJob(job_id="src", filename=script)]
        fan += [TitanJob(job_id=f"m{i}", filename=script, parents=["src"]) for i in range(n)]
        fan.append(TitanJob(job_id="sink", filename=script, parents=[f"m{i}" for i in range(n)]))
        fan_s, fan_cpu = timed_dag(up, "fan", fan, "sink")
    finally:
        up.stop()
    edges = 2 * n
    print(f"fan-out/fan-in 1->{n}->1 (noop executor): {fan_s:.3f} s end to end, broker CPU {fan_cpu:.3f} s "
          f"({fan_cpu / edges * 1e6:.1f} us per edge); aim < 1 s")
    print(f"reference, {n + 2} independent noop jobs: {flat_s:.3f} s (edges cost x{fan_s / flat_s:.2f})")

    up = Up("process", slots=4)
    try:
        c = a.chain
        chain = [TitanJob(job_id="c0", filename=script)]
        chain += [TitanJob(job_id=f"c{i}", filename=script, parents=[f"c{i - 1}"]) for i in range(1, c)]
        chain_s, _ = timed_dag(up, "chain", chain, f"c{c - 1}")
        single = [TitanJob(job_id=f"one{i}", filename=script) for i in range(1)]
        t0 = time.perf_counter()
        up.client.submit_dag("one", single)
        up.client.wait("one0", timeout=60)
        one_s = time.perf_counter() - t0
    finally:
        up.stop()
    print(f"chain of {c} process jobs: {chain_s:.3f} s, {chain_s / c * 1000:.1f} ms per edge "
          f"(one lone job end to end: {one_s * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
