"""Metrics benchmark: how long a Prometheus scrape of the dashboard's /metrics takes, and the broker's own
METRICS_GET under it, with an empty broker and with 10,000 finished jobs (a scrape should not grow with the jobs:
the per-state counts are kept on every transition). Starts its own cluster (`titan up`, no-op executor).

Run: .venv/bin/python tests/bench/metrics_bench.py [--jobs N] [--runs N]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
from titan_sdk import TitanClient, TitanJob  # noqa: E402

TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))
METRICS_RE = re.compile(r"metrics +(http://\S+/metrics)")


def median_ms(samples):
    return "%.2f ms (min %.2f, max %.2f)" % (statistics.median(samples) * 1e3, min(samples) * 1e3,
                                             max(samples) * 1e3)


def timed(fn, runs):
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return samples


def measure(client, url, runs, label):
    body = urllib.request.urlopen(url, timeout=30).read()
    series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    scrape = timed(lambda: urllib.request.urlopen(url, timeout=30).read(), runs)
    broker = timed(lambda: client.metrics(), runs)
    print("%-22s /metrics %s; broker METRICS_GET %s; %d series, %d bytes"
          % (label, median_ms(scrape), median_ms(broker), series, len(body)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=10000)
    p.add_argument("--runs", type=int, default=50)
    args = p.parse_args()
    data = tempfile.mkdtemp(prefix="titan-metrics-bench-")
    port = 20000 + os.getpid() % 5000 * 4
    up = subprocess.Popen([TITAN, "up", "--dir", data, "--port", str(port), "--workers", "2", "--executor", "noop",
                           "--slots", "64", "--insecure"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in up.stdout:
            m = METRICS_RE.search(line)
            url = m.group(1) if m else url
            if "Ctrl-C stops everything" in line:
                break
        if url is None:
            raise SystemExit("titan up did not start its dashboard; see " + data)
        threading.Thread(target=lambda: [None for _ in up.stdout], daemon=True).start()
        script = os.path.join(data, "noop.sh")
        with open(script, "w") as f:
            f.write("true\n")
        with TitanClient(port=port, timeout=120) as client:
            measure(client, url, args.runs, "empty broker")
            for start in range(0, args.jobs, 1000):
                client.submit(None, [TitanJob(job_id="m%06d" % i, filename=script)
                                     for i in range(start, min(args.jobs, start + 1000))])
            client.wait("m%06d" % (args.jobs - 1), timeout=600)
            measure(client, url, args.runs, "%d finished jobs" % args.jobs)
    finally:
        up.send_signal(2)
        up.wait(timeout=60)


if __name__ == "__main__":
    main()
