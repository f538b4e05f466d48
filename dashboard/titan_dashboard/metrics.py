# /metrics: the cluster's metrics in Prometheus's text format (docs/observability.md). A prometheus_client
# Collector asks the broker and the store for their METRICS at each scrape and hands their families to the
# library, which writes the text: nothing here formats the exposition by hand.
import asyncio
import hmac
import ipaddress
import logging
import re
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from titan_sdk.errors import TitanError
from titan_sdk.messages import MetricFamily

log = logging.getLogger("titan_dashboard.metrics")

NODES = (("broker", False), ("store", True))  # (node label, ask the store)
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# Asks one node for its families: (store?) -> families; raises TitanError when the node does not answer.
Fetch = Callable[[bool], List[MetricFamily]]


def _problem(f: MetricFamily) -> Optional[str]:
    """Why a node's family cannot be exposed as it is, or None."""
    if not _NAME.match(f.name) or f.name == "titan_up":
        return "the name %r is not a metric name Titan may use" % f.name
    if f.type not in ("counter", "gauge", "histogram"):
        return "%s has the unknown type %r" % (f.name, f.type)
    if f.type == "counter" and not f.name.endswith("_total"):
        return "the counter %s does not end in _total" % f.name
    if any(not _LABEL.match(name) or name.startswith("__") or name == "le" for name in f.labels):
        return "%s has an invalid label name among %s" % (f.name, f.labels)
    if (f.scale or 1) <= 0:
        return "%s has the scale %r" % (f.name, f.scale)
    for s in f.samples:
        if len(s.labels) != len(f.labels):
            return "a sample of %s has %d label values for %d labels" % (f.name, len(s.labels), len(f.labels))
        if f.type == "histogram" and (s.count is None or s.buckets is None):
            return "a sample of the histogram %s has no count or buckets" % f.name
    return None


def to_prometheus(f: MetricFamily) -> Metric:
    """A node's family as a prometheus_client family: values divided by its scale (seconds from ms ...)."""
    scale = f.scale or 1

    def value(v: int) -> float:
        return v if scale == 1 else v / scale

    if f.type == "counter":
        out = CounterMetricFamily(f.name, f.help, labels=f.labels)
        for s in f.samples:
            out.add_metric(s.labels, value(s.value))
    elif f.type == "gauge":
        out = GaugeMetricFamily(f.name, f.help, labels=f.labels)
        for s in f.samples:
            out.add_metric(s.labels, value(s.value))
    else:
        out = HistogramMetricFamily(f.name, f.help, labels=f.labels)
        for s in f.samples:
            buckets = [(floatToGoString(value(b.le)), b.count) for b in s.buckets] + [("+Inf", s.count)]
            out.add_metric(s.labels, buckets, value(s.value))
    return out


def merge(nodes: Iterable[Tuple[str, List[MetricFamily]]]) -> Iterator[Metric]:
    """The families of all nodes as prometheus_client families, one per name: a name both nodes report (they
    tell their samples apart with a `node` label) is merged when its type and labels agree. A family that
    cannot be exposed, or clashes with another node's, is left out and logged (a scrape never fails for it)."""
    by_name: Dict[str, MetricFamily] = {}
    for node, families in nodes:
        for f in families:
            problem = _problem(f)
            seen = by_name.get(f.name)
            if problem is None and seen is not None and (seen.type, seen.labels, seen.scale) != (f.type, f.labels,
                                                                                               f.scale):
                problem = "%s differs from the one another node reports" % f.name
            if problem is not None:
                log.warning("metrics: the %s's family left out: %s", node, problem)
                continue
            if seen is None:
                by_name[f.name] = MetricFamily(name=f.name, type=f.type, help=f.help, labels=list(f.labels),
                                               samples=list(f.samples), scale=f.scale)
            else:
                seen.samples.extend(f.samples)
    for f in by_name.values():
        yield to_prometheus(f)


class TitanCollector:
    """A prometheus_client collector of the cluster: at each scrape it asks the broker and the store for their
    metrics (`fetch`) and yields their families, with titan_up{node} saying which answered."""

    def __init__(self, fetch: Fetch):
        self.fetch = fetch

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("titan_up", "1 when the node answered this scrape's METRICS_GET, else 0.",
                               labels=["node"])
        answered = []
        for node, store in NODES:
            try:
                answered.append((node, self.fetch(store)))
                up.add_metric([node], 1)
            except TitanError as e:
                log.warning("metrics: the %s did not answer: %s", node, e)
                up.add_metric([node], 0)
        yield up
        yield from merge(answered)


def client_fetch(make_client: Callable[[], object]) -> Fetch:
    """A Fetch over one TitanClient, made on first use (and again after a failure to make one)."""
    holder: Dict[str, object] = {}

    def fetch(store: bool) -> List[MetricFamily]:
        if "client" not in holder:
            holder["client"] = make_client()
        return holder["client"].metrics(store=store)
    return fetch


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(request: Request) -> Optional[Response]:
    """Why this scrape may not read /metrics, or None. With a metrics token, the request must carry it as a
    bearer token; without one, only a dashboard listening on loopback serves /metrics."""
    opts = request.app.state.opts
    if opts.metrics_token is None:
        if loopback(opts.listen_host):
            return None
        return PlainTextResponse(
            "/metrics needs a token when the dashboard listens on %s (not loopback): start it with "
            "--metrics-token-file FILE and give Prometheus the same file (authorization: credentials_file: FILE)\n"
            % opts.listen_host, 403)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), opts.metrics_token.encode()):
        return None
    return PlainTextResponse("/metrics needs the bearer token of --metrics-token-file (Authorization: Bearer ...)\n",
                             401, headers={"WWW-Authenticate": 'Bearer realm="titan metrics"'})


def registry_for(fetch: Fetch) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)  # registering asks no node anything
    registry.register(TitanCollector(fetch))
    return registry


async def metrics(request: Request) -> Response:
    refused = refusal(request)
    if refused is not None:
        return refused
    body = await asyncio.to_thread(generate_latest, request.app.state.metrics_registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


ROUTES = [Route("/metrics", metrics)]
