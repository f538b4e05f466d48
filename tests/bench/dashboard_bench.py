"""Dashboard benchmark: time to first render of the Jobs page with 100,000 jobs in the broker and of a DAG page
with 1,000 nodes, in headless Chromium; and events per second the dashboard forwards to 10 connected SSE clients
without any of them falling behind. Starts its own cluster (`titan up`, no-op executor) with its dashboard.

Run: .venv/bin/python tests/bench/dashboard_bench.py [--jobs N] [--dag-nodes N] [--clients N] [--event-jobs N]
(needs chromium and chromium-driver: TITAN_TEST_TOOLS=1 cli/install.sh). Aims: first render < 2 s each.
References printed beside: the broker's own JOB_LIST / DAG_GET time for the same data, measured in the same run,
and the broker's PUB rate for the events (read from its event socket directly) in the same window.
"""
import argparse
import http.client
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "sdk", "python"))
sys.path.insert(0, os.path.join(REPO, "dashboard", "tests"))
sys.path.insert(0, os.path.join(REPO, "tests", "python"))  # browser.py uses the test cluster helpers
import zmq  # noqa: E402
from browser import browser  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from titan_sdk import TitanClient, TitanJob  # noqa: E402
from titan_sdk.protocol import MsgType  # noqa: E402
from titan_sdk.transport import Connection  # noqa: E402

TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))
LINK_RE = re.compile(r"dashboard (http://\S+/login\?token=\S+)")
RUNS = 5


class Up:
    """`titan up` (no keys: the benchmark reads the event socket itself) with the no-op executor and its dashboard;
    stops it (SIGINT) on exit."""

    def __init__(self, slots: int):
        self.dir = tempfile.mkdtemp(prefix="titan-dash-bench-")
        self.port = 20000 + os.getpid() % 5000 * 4
        self.proc = subprocess.Popen(
            [TITAN, "up", "--dir", self.dir, "--port", str(self.port), "--workers", "2", "--executor", "noop",
             "--slots", str(slots), "--insecure"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.link = None
        for line in self.proc.stdout:
            m = LINK_RE.search(line)
            if m:
                self.link = m.group(1)
            if "Ctrl-C stops everything" in line:
                break
        if self.link is None:
            raise SystemExit("titan up did not start its dashboard; see " + self.dir)
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.client = TitanClient(port=self.port, timeout=120)

    def stop(self):
        self.proc.send_signal(2)
        self.proc.wait(timeout=60)


def median_s(samples):
    return "%.3f s (min %.3f, max %.3f)" % (statistics.median(samples), min(samples), max(samples))


def fill(up, n, script):
    """n finished no-op jobs in the broker, submitted 1,000 per JOB_SUBMIT."""
    for start in range(0, n, 1000):
        batch = range(start, min(n, start + 1000))
        up.client.submit(None, [TitanJob(job_id="b%06d" % i, filename=script) for i in batch])
    up.client.wait("b%06d" % (n - 1), timeout=600)


def first_render(driver, url, rows_js, what):
    """Seconds from asking for `url` to `rows_js` being true in the page (the page drawn with its data)."""
    t0 = time.perf_counter()
    driver.get(url)
    WebDriverWait(driver, 60, poll_frequency=0.01).until(lambda d: d.execute_script(rows_js), "no " + what)
    return time.perf_counter() - t0


def sse_clients(base, cookie, n, stop, counts, resyncs):
    """n threads, each reading /api/stream and counting job events and resyncs."""
    host = urllib.parse.urlparse(base)

    def run(i):
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        conn.request("GET", "/api/stream", headers={"Cookie": cookie})
        resp = conn.getresponse()
        while not stop.is_set():
            line = resp.fp.readline()
            if not line:
                break
            if line.startswith(b"event: job"):
                counts[i] += 1
            elif line.startswith(b"event: resync"):
                resyncs[i] += 1
        conn.close()
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def broker_events(port, stop, out):
    """Counts EVENT_JOB messages on the broker's PUB socket (the reference rate)."""
    hello = Connection("tcp://127.0.0.1:%d" % port, "broker")
    pub = hello.request(MsgType.HELLO, {"client": "bench"}, 10).fields["pub_port"]
    hello.close()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"job.")
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect("tcp://127.0.0.1:%d" % pub)
    out.append(sub)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=100000)
    ap.add_argument("--dag-nodes", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--event-jobs", type=int, default=10000)
    ap.add_argument("--event-rate", type=int, default=500, help="jobs submitted per second (~3 job events each)")
    a = ap.parse_args()
    script = os.path.join(tempfile.mkdtemp(), "noop.sh")
    open(script, "w").write("exit 0\n")
    up = Up(slots=1024)
    driver = browser()
    try:
        t0 = time.perf_counter()
        fill(up, a.jobs, script)
        print("filled %d jobs in %.1f s" % (a.jobs, time.perf_counter() - t0))
        driver.get(up.link)
        base = up.link.split("/login")[0]
        WebDriverWait(driver, 30).until(lambda d: d.get_cookie("titan_session"), "no session")
        rows = "return document.querySelectorAll('#jobs tbody tr').length > 0;"
        jobs = [first_render(driver, base + "/jobs", rows, "jobs rows") for _ in range(RUNS)]
        middle = base + "/jobs?before=%d" % (a.jobs // 2)
        older = [first_render(driver, middle, rows, "older rows") for _ in range(RUNS)]
        rare = "return document.querySelectorAll('#jobs tbody tr').length === 1;"
        needle = "b%06d" % 7
        rare_s = [first_render(driver, base + "/jobs?q=" + needle, rare, "the one match") for _ in range(RUNS)]
        ref = []
        for _ in range(RUNS):
            r0 = time.perf_counter()
            up.client.list_jobs_page(50)
            ref.append(time.perf_counter() - r0)
        print("jobs page, %d jobs in the broker: first render %s; aim < 2 s" % (a.jobs, median_s(jobs)))
        print("  an older page (cursor in the middle): %s" % median_s(older))
        print("  id filter matching 1 job (scans the whole history): %s" % median_s(rare_s))
        print("  reference, the SDK's list_jobs_page(50) alone: %s" % median_s(ref))

        n = a.dag_nodes
        layers = 10
        width = n // layers
        dag = []
        for i in range(n):
            layer, k = divmod(i, width)
            parents = ["d%04d" % ((layer - 1) * width + (k + j) % width) for j in (0, 1)] if layer else []
            dag.append(TitanJob(job_id="d%04d" % i, filename=script, parents=parents, delay=0 if layer else 3600000))
        up.client.submit_dag("big", dag)
        drawn = "return !!(window.titanCy && titanCy.nodes().length === %d);" % n  # laid out when created
        dag_s = [first_render(driver, base + "/dags/big", drawn, "the drawn graph") for _ in range(RUNS)]
        d0 = time.perf_counter()
        up.client.get_dag("big")
        print("DAG page, %d nodes in %d layers (breadth-first layout past 200 nodes): first render %s; aim < 2 s"
              % (n, layers, median_s(dag_s)))
        print("  reference, the SDK's get_dag alone: %.3f s" % (time.perf_counter() - d0))

        driver.get(base + "/events")  # keep the browser's own stream out of the count: a page without rows
        cookie = "titan_session=" + driver.get_cookie("titan_session")["value"]
        stop = threading.Event()
        counts, resyncs = [0] * a.clients, [0] * a.clients
        threads = sse_clients(base, cookie, a.clients, stop, counts, resyncs)
        subs = []
        broker_events(up.port, stop, subs)
        time.sleep(1)  # the streams connect (a benchmark, not a test: timing is what it measures)
        ref_count = 0
        e0 = time.perf_counter()
        step = max(1, a.event_rate // 10)  # ten submissions a second, paced
        for start in range(0, a.event_jobs, step):
            up.client.submit(None, [TitanJob(job_id="e%06d" % i, filename=script)
                                    for i in range(start, min(a.event_jobs, start + step))])
            time.sleep(max(0.0, e0 + (start + step) / a.event_rate - time.perf_counter()))
        up.client.wait("e%06d" % (a.event_jobs - 1), timeout=600)
        while subs[0].poll(500):
            subs[0].recv_multipart()
            ref_count += 1
        while True:  # until every client got what the first one got, or nothing moves for 2 s
            before = list(counts)
            time.sleep(2)
            if counts == before:
                break
        elapsed = time.perf_counter() - e0 - 2
        stop.set()
        subs[0].close(linger=0)
        print("SSE: %d clients; the broker published %d job events (read from its PUB socket) in %.1f s; each client "
              "got %s: %.0f events/s to each, %.0f events/s in all; resyncs (a client fell behind): %s"
              % (a.clients, ref_count, elapsed, sorted(set(counts)), statistics.median(counts) / elapsed,
                 sum(counts) / elapsed, sum(resyncs)))
        del threads
    finally:
        driver.quit()
        up.stop()


if __name__ == "__main__":
    main()
