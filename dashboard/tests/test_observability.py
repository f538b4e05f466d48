# /metrics, /healthz and /readyz of `titan dashboard` against a real cluster (store, broker, two workers, CURVE
# on): promtool accepts the exposition; a real Prometheus scrapes it (with the bearer token) while 5 jobs
# complete and 2 fail, and PromQL over its HTTP API counts exactly those; /readyz turns 503 with the reason
# while the broker is stopped and 200 again once it is back. Every wait polls a condition with a deadline.
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from browser import DASHBOARD_READY_RE, secure_cluster
from cluster import unique_id, wait_until, write_script
from node_process import NodeProcess
from secure_cluster import client
from titan_sdk import TitanJob

DEADLINE_S = 60
PROMETHEUS, PROMTOOL = shutil.which("prometheus"), shutil.which("promtool")
need_prometheus = pytest.mark.skipif(not (PROMETHEUS and PROMTOOL), reason="needs prometheus and promtool (apt-get "
                                     "install prometheus, or TITAN_TEST_TOOLS=1 cli/install.sh)")


def start_dashboard(root, cluster, credential, *extra) -> NodeProcess:
    """`titan dashboard` on a free loopback port with this interpreter; .base is its URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    env.update(TITAN_DASHBOARD_PYTHON=sys.executable, TITAN_HOME=os.environ["TITAN_HOME"])
    args = ["--port", str(cluster.port), "--credentials", str(credential), "dashboard", "--listen", "127.0.0.1:0"]
    proc = NodeProcess("dashboard", args + list(extra), DASHBOARD_READY_RE, root / "dashboard.stderr.log",
                       env=env).start()
    proc.base = proc.ready.group(1).split("/login")[0]
    return proc


def get(url, token=None):
    """(status, body) of a GET; (0, why) when nothing listens there."""
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except urllib.error.URLError as e:
        return 0, str(e.reason)


def run_workload(cluster, credential, tmp_path, completed: int, failed: int) -> None:
    ok = write_script(tmp_path, "ok.sh", "echo fine\n")
    bad = write_script(tmp_path, "bad.sh", "echo broken >&2; exit 3\n")
    with client(cluster, credential) as sdk:
        ids = [sdk.submit_job(TitanJob(job_id=unique_id("ok"), filename=ok)) for _ in range(completed)]
        ids += [sdk.submit_job(TitanJob(job_id=unique_id("bad"), filename=bad)) for _ in range(failed)]
        assert sorted(sdk.wait(i, timeout=DEADLINE_S) for i in ids) == ["COMPLETED"] * completed + ["FAILED"] * failed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    cluster, creds = secure_cluster(tmp_path)
    try:
        yield cluster, creds
    finally:
        cluster.stop()


@need_prometheus
def test_promtool_accepts_the_metrics_and_prometheus_counts_the_workload(cluster, tmp_path):
    cluster, creds = cluster
    token = tmp_path / "metrics.token"
    token.write_text(secrets.token_hex(16) + "\n")
    dashboard = start_dashboard(tmp_path, cluster, creds["admin"], "--metrics-token-file", str(token))
    prometheus = None
    try:
        assert get(dashboard.base + "/metrics")[0] == 401  # the token is asked for
        port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(json.dumps({  # YAML is a superset of JSON
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "titan", "metrics_path": "/metrics",
                                "authorization": {"credentials_file": str(token)},
                                "static_configs": [{"targets": [dashboard.base.split("://")[1]]}]}]}))
        with open(tmp_path / "prometheus.log", "ab") as log:
            prometheus = subprocess.Popen([PROMETHEUS, "--config.file", str(config), "--storage.tsdb.path",
                                           str(tmp_path / "tsdb"), "--web.listen-address", "127.0.0.1:%d" % port],
                                          stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        api = "http://127.0.0.1:%d" % port
        wait_until("Prometheus to be ready", lambda: get(api + "/-/ready")[0] == 200)

        run_workload(cluster, creds["admin"], tmp_path, completed=5, failed=2)

        status, text = get(dashboard.base + "/metrics", token.read_text().strip())
        assert status == 200
        check = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr

        def query(promql):
            """{outcome or '': value} of an instant query, once Prometheus answers it."""
            status, body = get(api + "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
            assert status == 200, body
            return {r["metric"].get("outcome", ""): float(r["value"][1]) for r in json.loads(body)["data"]["result"]}

        expected = {"completed": 5.0, "failed": 2.0}
        promql = 'sum by (outcome) (titan_jobs_finished_total{kind="job"})'
        wait_until("PromQL to count 5 completed and 2 failed jobs (see %s)" % (tmp_path / "prometheus.log"),
                   lambda: query(promql) == expected)
        assert query('up{job="titan"}') == {"": 1.0}  # scraped with the bearer token
        assert query("sum(titan_up)") == {"": 2.0}  # the broker and the store answered
        assert query("sum(titan_job_run_seconds_count)") == {"": 7.0}
        assert query('titan_workers{state="ready"}') == {"": 2.0}
        assert query('sum(titan_jobs{state="completed"})') == {"": 5.0}
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(30)
        dashboard.stop()


def test_readyz_says_why_while_the_broker_is_stopped_and_is_ready_again_after(cluster, tmp_path):
    cluster, creds = cluster
    dashboard = start_dashboard(tmp_path, cluster, creds["admin"])
    try:
        assert get(dashboard.base + "/readyz") == (200, "ready\n")
        cluster.broker.pause()  # its loop does not turn
        status, body = get(dashboard.base + "/readyz")
        assert status == 503 and "the broker did not answer within" in body, body
        assert get(dashboard.base + "/healthz") == (200, "ok\n")
        cluster.broker.resume()
        wait_until("/readyz once the broker runs again", lambda: get(dashboard.base + "/readyz") == (200, "ready\n"))

        cluster.broker.kill9()  # stopped for good, then started again on its port and journal
        status, body = get(dashboard.base + "/readyz")
        assert status == 503 and "the broker did not answer within" in body, body
        cluster.crash_and_restart_broker()
        wait_until("/readyz once the broker is back", lambda: get(dashboard.base + "/readyz") == (200, "ready\n"))
    finally:
        dashboard.stop()
