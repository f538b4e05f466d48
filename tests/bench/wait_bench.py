"""wait() benchmark: sequential submit -> wait -> result latency through the Python SDK, with wait() driven by
the client's event subscription against two references, interleaved in rounds, in one run: a JOB_WAIT long-poll
on a kept connection (what wait() did before the subscription), and a new connection per wait (what it did before
that); and the TIME_WAIT sockets each way leaves behind. Starts its own cluster (`titan up`, no-op executor,
plaintext on loopback).

Run: .venv/bin/python tests/bench/wait_bench.py [--jobs N] [--rounds N]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
sys.path.insert(0, os.path.join(REPO, "tests", "python"))
from titan_sdk import TitanClient, TitanJob  # noqa: E402
from titan_sdk.protocol import MsgType  # noqa: E402
from titan_sdk.transport import Connection  # noqa: E402
from test_wait_connection import TIME_WAIT, sockets_to  # noqa: E402

TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))


def job_wait(client, per_call):
    """A reference: JOB_WAIT on a connection kept between waits, or (per_call) a new connection for each."""
    kept = Connection(client.endpoint, "the benchmark's broker")

    def wait(job_id, timeout=60):
        conn = Connection(client.endpoint, "the benchmark's broker") if per_call else kept
        try:
            reply = conn.request(MsgType.JOB_WAIT, {"id": job_id, "timeout_ms": int(timeout * 1000)}, timeout + 10)
            return reply.fields["job"]["state"]
        finally:
            if per_call:
                conn.close()
    return wait


def round_trip(client, wait, script, n, prefix):
    samples = []
    before = sockets_to(client.port, TIME_WAIT)
    for i in range(n):
        t0 = time.perf_counter()
        job_id = client.submit_job(TitanJob("%s-%d" % (prefix, i), script))
        wait(job_id, 60)
        samples.append(time.perf_counter() - t0)
    return samples, sockets_to(client.port, TIME_WAIT) - before


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=500, help="jobs per round and way")
    p.add_argument("--rounds", type=int, default=4)
    args = p.parse_args()
    data = tempfile.mkdtemp(prefix="titan-wait-bench-")
    port = 20000 + os.getpid() % 5000 * 4
    up = subprocess.Popen([TITAN, "up", "--dir", data, "--port", str(port), "--workers", "2", "--executor", "noop",
                           "--slots", "64", "--insecure", "--no-dashboard"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    try:
        for line in up.stdout:
            if "Ctrl-C stops everything" in line:
                break
        threading.Thread(target=lambda: [None for _ in up.stdout], daemon=True).start()
        script = os.path.join(data, "noop.sh")
        with open(script, "w") as f:
            f.write("true\n")
        results = {"event subscription": ([], []), "JOB_WAIT, kept conn": ([], []), "connection per wait": ([], [])}
        with TitanClient(port=port, timeout=60) as client:
            ways = {"event subscription": client.wait, "JOB_WAIT, kept conn": job_wait(client, False),
                    "connection per wait": job_wait(client, True)}
            for r in range(args.rounds):
                for name, wait in ways.items():
                    samples, left = round_trip(client, wait, script, args.jobs, "r%d-%s" % (r, name.split()[0].strip(",")))
                    results[name][0].extend(samples)
                    results[name][1].append(left)
        for name, (samples, left) in results.items():
            samples.sort()
            print("%-20s submit->result p50 %.3f ms  p99 %.3f ms  TIME_WAIT sockets left per %d waits: %s"
                  % (name, statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3, args.jobs,
                     "/".join(str(n) for n in left)))
    finally:
        up.send_signal(2)
        up.wait(timeout=60)


if __name__ == "__main__":
    main()
