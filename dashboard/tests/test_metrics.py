# /metrics, /healthz and /readyz on canned node answers (no cluster): the families of the broker and the store
# rendered by prometheus_client (read back with its parser), units scaled, a node that does not answer, families
# that cannot be exposed, the bearer token, and readiness with its reasons.
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from titan_sdk.errors import ForbiddenError, TitanTimeoutError
from titan_sdk.messages import MetricBucket, MetricFamily, MetricSample

from titan_dashboard import health, metrics
from titan_dashboard.app import make_app
from titan_dashboard.options import Options

HOST = "http://testserver"


def family(name, type_, labels=(), samples=(), scale=None, help_="what it measures"):
    return MetricFamily(name=name, type=type_, help=help_, labels=list(labels), samples=list(samples), scale=scale)


def sample(labels, value, count=None, buckets=None):
    return MetricSample(labels=list(labels), value=value, count=count,
                        buckets=None if buckets is None else [MetricBucket(le=le, count=n) for le, n in buckets])


BROKER = [
    family("titan_jobs_finished_total", "counter", ["outcome", "capability", "kind"],
           [sample(["completed", "GENERAL", "job"], 5), sample(["failed", "GPU", "job"], 2)]),
    family("titan_worker_cpu_ratio", "gauge", ["worker"], [sample(["w1"], 250)], scale=1000),
    family("titan_job_run_seconds", "histogram", ["capability"],
           [sample(["GENERAL"], 1750, count=3, buckets=[(500, 1), (1000, 2)])], scale=1000),
    family("titan_auth_failures_total", "counter", ["node", "reason"], [sample(["broker", "forbidden"], 1)]),
]
STORE = [
    family("titan_store_requests_total", "counter", ["op", "result"], [sample(["put", "ok"], 9)]),
    family("titan_auth_failures_total", "counter", ["node", "reason"], [sample(["store", "forbidden"], 4)]),
    family("titan_read_only", "gauge", ["node"], [sample(["store"], 0)]),
]


class Nodes:
    """Canned METRICS answers; a node in `down` times out, one in `refusing` is FORBIDDEN."""

    def __init__(self, broker=BROKER, store=STORE):
        self.families = {False: broker, True: store}
        self.down = set()
        self.refusing = set()
        self.stats = {"workers": [], "queued": 0}

    def fetch(self, store: bool):
        node = "store" if store else "broker"
        if node in self.down:
            raise TitanTimeoutError("no reply from tcp://127.0.0.1:1 within 2 s")
        if node in self.refusing:
            raise ForbiddenError("principal 'x' (role worker) may not send METRICS_GET")
        return self.families[store]

    # The TitanClient calls Readiness makes.
    def metrics(self, store: bool = False):
        return self.fetch(store)

    def get_stats(self):
        if "broker" in self.down:
            raise TitanTimeoutError("no reply from tcp://127.0.0.1:1 within 2 s")
        return self.stats


def app_with(nodes: Nodes, **opts):
    app = make_app(Options(**opts), own_credential=None, start_hub=False)
    app.state.metrics_registry = metrics.registry_for(nodes.fetch)
    app.state.readiness = health.Readiness(lambda: nodes, 2.0)
    return app


class Samples(dict):
    """A scrape read back by prometheus_client's parser: (name, {labels}) -> value."""

    def of(self, name, **labels):
        return self.get((name, frozenset(labels.items())))


def scrape(app, headers=None):
    response = TestClient(app, base_url=HOST).get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = Samples({(s.name, frozenset(s.labels.items())): s.value
                       for f in text_string_to_metric_families(response.text) for s in f.samples})
    return samples, response.text


def test_the_families_of_both_nodes_are_exposed_with_their_units():
    values, text = scrape(app_with(Nodes()))
    assert values.of("titan_jobs_finished_total", capability="GENERAL", kind="job", outcome="completed") == 5
    assert values.of("titan_worker_cpu_ratio", worker="w1") == 0.25
    assert values.of("titan_job_run_seconds_bucket", capability="GENERAL", le="0.5") == 1
    assert values.of("titan_job_run_seconds_bucket", capability="GENERAL", le="1.0") == 2
    assert values.of("titan_job_run_seconds_bucket", capability="GENERAL", le="+Inf") == 3
    assert values.of("titan_job_run_seconds_sum", capability="GENERAL") == 1.75
    assert values.of("titan_store_requests_total", op="put", result="ok") == 9
    # A family both nodes report is one family with both nodes' samples.
    assert values.of("titan_auth_failures_total", node="broker", reason="forbidden") == 1
    assert values.of("titan_auth_failures_total", node="store", reason="forbidden") == 4
    assert text.count("# TYPE titan_auth_failures_total counter") == 1
    assert values.of("titan_up", node="broker") == 1 and values.of("titan_up", node="store") == 1


def test_a_node_that_does_not_answer_is_titan_up_0_and_the_scrape_still_succeeds():
    nodes = Nodes()
    nodes.down.add("store")
    values, _ = scrape(app_with(nodes))
    assert values.of("titan_up", node="store") == 0
    assert values.of("titan_up", node="broker") == 1
    assert not any(name.startswith("titan_store_requests_total") for name, _ in values)
    assert values.of("titan_auth_failures_total", node="broker", reason="forbidden") == 1


@pytest.mark.parametrize("bad", [
    family("titan_bad_total", "counter", ["a", "b"], [sample(["only-one"], 1)]),  # label count
    family("titan_odd", "summary", [], [sample([], 1)]),                           # unknown type
    family("titan jobs", "gauge", [], [sample([], 1)]),                             # not a metric name
    family("titan_count", "counter", [], [sample([], 1)]),                         # a counter without _total
    family("titan_hist_seconds", "histogram", [], [sample([], 1)]),                # no buckets
    family("titan_labelled", "gauge", ["le"], [sample(["x"], 1)]),                 # a reserved label
])
def test_a_family_that_cannot_be_exposed_is_left_out_and_the_rest_served(bad):
    values, text = scrape(app_with(Nodes(broker=BROKER + [bad])))
    assert "# HELP %s " % bad.name not in text
    assert values.of("titan_store_requests_total", op="put", result="ok") == 9
    assert values.of("titan_up", node="broker") == 1


def test_a_node_may_not_take_the_collectors_name_or_redefine_the_other_nodes_family():
    clash = family("titan_auth_failures_total", "counter", ["node"], [sample(["store"], 7)])
    fake_up = family("titan_up", "gauge", ["node"], [sample(["broker"], 0)])
    values, text = scrape(app_with(Nodes(broker=BROKER + [fake_up], store=STORE + [clash])))
    assert values.of("titan_up", node="broker") == 1  # the collector's, not the node's
    assert values.of("titan_auth_failures_total", node="broker", reason="forbidden") == 1  # the first kept
    assert values.of("titan_auth_failures_total", node="store") is None


def test_metrics_on_loopback_needs_no_token_but_elsewhere_needs_one():
    assert TestClient(app_with(Nodes(), listen_host="127.0.0.1"), base_url=HOST).get("/metrics").status_code == 200
    refused = TestClient(app_with(Nodes(), listen_host="0.0.0.0"), base_url=HOST).get("/metrics")
    assert refused.status_code == 403 and "--metrics-token-file" in refused.text


def test_with_a_token_metrics_needs_it_as_a_bearer_token():
    app = app_with(Nodes(), listen_host="0.0.0.0", metrics_token="s3cret")
    http = TestClient(app, base_url=HOST)
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert http.get("/metrics", headers={"Authorization": "Basic s3cret"}).status_code == 401
    assert http.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_healthz_is_ok_and_readyz_says_why_not_ready():
    nodes = Nodes()
    http = TestClient(app_with(nodes), base_url=HOST)
    assert (http.get("/healthz").status_code, http.get("/healthz").text) == (200, "ok\n")
    assert (http.get("/readyz").status_code, http.get("/readyz").text) == (200, "ready\n")
    nodes.stats = {"read_only": True, "read_only_reason": "disk full on the broker (/data/broker)"}
    nodes.families[True] = [family("titan_read_only", "gauge", ["node"], [sample(["store"], 1)])]
    not_ready = http.get("/readyz")
    assert not_ready.status_code == 503
    assert "the broker's journal is not writable: disk full on the broker (/data/broker)" in not_ready.text
    assert "TitanStore's disk is full" in not_ready.text
    nodes.down.add("broker")
    nodes.refusing.add("store")
    not_ready = http.get("/readyz").text
    assert "the broker did not answer within 2 s" in not_ready and "TitanStore refused: " in not_ready
    assert http.get("/healthz").status_code == 200  # the dashboard itself is alive
