# The protocol fuzzer as a test: a fixed seed and a case budget of bad messages (fuzz_cases.py) sent to the
# store, the broker's client port and its worker port. Every reply must be the one docs/protocol.md section
# 4.3 prescribes (the SDK's codec computes it); afterwards every node still runs, answers a valid request,
# stayed within the memory section 7 allows, and a job still runs end to end.
#   TITAN_FUZZ_SEED (default 14), TITAN_FUZZ_CASES (default 20000), TITAN_FUZZ_ONLY=i,j (replay cases)
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import List, Tuple

from cluster import Cluster, unique_id, write_script
from fuzz_cases import make_case
from fuzz_target import BROKER, KEPT_BYTES, NO_REPLY, NODE_ERRORS, STORE, WORKERS, Exchange, Expect, Port, expect
from titan_sdk import TitanClient, TitanJob
from titan_sdk.protocol import MsgType
from health import ask, welcome

SEED = int(os.environ.get("TITAN_FUZZ_SEED", "").strip() or 14)
CASES = int(os.environ.get("TITAN_FUZZ_CASES", "").strip() or 20000)
ONLY = [int(i) for i in os.environ.get("TITAN_FUZZ_ONLY", "").split(",") if i.strip()]
PORTS = (STORE, BROKER, WORKERS)
OVERSIZED_WEIGHT = {STORE: 2.0, BROKER: 0.15, WORKERS: 0.15}  # several MiB each on the broker's ports
SLACK_BYTES = 64 << 20  # the allocator's and libzmq's own share, as in tests/integration/oversized.h
PORTS_OF = {"store": 1, "broker": 2}  # ports of each node the fuzzer sends to
SHOWN = 20


def peak_rss(pid: int) -> int:
    """VmHWM of /proc/<pid>/status in bytes."""
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


def judge(want: Expect, got: str, rid) -> str:
    """Why `got` (with `rid`) is not what `want` says ("" when it is)."""
    if want.code == NO_REPLY:
        return ""
    if want.code:
        if got != want.code:
            return "answered %s, expected %s" % (got, want.code)
    elif got != want.reply_type and got not in NODE_ERRORS:
        return "answered %s, expected %s (or %s)" % (got, want.reply_type, "/".join(NODE_ERRORS))
    if want.rid is not None and rid != want.rid and got != "DISCONNECT":
        return "answered %s with rid %s, expected rid %s" % (got, rid, want.rid)
    return ""


def alive(cluster: Cluster) -> str:
    """"" when every node process runs, else which one ended."""
    for node in [cluster.store, cluster.broker] + list(cluster.workers.values()):
        if node.proc.poll() is not None:
            return "%s exited with code %s; stderr:\n%s" % (node.role, node.proc.returncode, node.stderr())
    return ""


def fuzz_port(cluster: Cluster, port: Port, endpoint: int, indices: List[int]) -> Tuple[Counter, List[str], int]:
    """Sends the cases `indices` to one port, in order, from one thread: (answers by code, failures, the largest
    message sent in bytes)."""
    exchange = Exchange("tcp://127.0.0.1:%d" % endpoint)
    counts, failures, biggest = Counter(), [], 0
    try:
        for i in indices:
            case = make_case(SEED, i, sorted(port.serves), port.store, OVERSIZED_WEIGHT[port])
            want = expect(port, case)
            if want.unsafe:
                counts[(port.name, "(not sent: a valid request that would change the cluster)")] += 1
                continue
            got, rid = exchange.send(case)
            counts[(port.name, got)] += 1
            biggest = max(biggest, case.sent_bytes)
            why = judge(want, got, rid)
            if why:
                failures.append("%s to the %s: %s" % (case.describe(), port.name, why))
            dead = alive(cluster) if got == NO_REPLY else ""
            if dead:
                failures.append("after %s to the %s: %s" % (case.describe(), port.name, dead))
                break
    finally:
        exchange.close()
    return counts, failures, biggest


def fuzz(cluster: Cluster, counts: Counter, failures: list) -> int:
    """Sends the cases, each port's from a thread of its own (case i goes to PORTS[i % 3]); returns the
    largest message sent, in bytes."""
    endpoints = {STORE: cluster.store.port, BROKER: cluster.port, WORKERS: welcome(cluster)["worker_port"]}
    indices = ONLY or list(range(CASES))
    with ThreadPoolExecutor(len(PORTS)) as pool:
        done = [pool.submit(fuzz_port, cluster, p, endpoints[p], [i for i in indices if PORTS[i % len(PORTS)] is p])
                for p in PORTS]
    biggest = 0
    for future in done:
        port_counts, port_failures, port_biggest = future.result()
        counts.update(port_counts)
        failures += port_failures
        biggest = max(biggest, port_biggest)
    return biggest


def still_serves(cluster: Cluster, tmp_path) -> None:
    """Every node answers a valid request correctly, and a job runs end to end."""
    ask(cluster.store.port, MsgType.STORE_PUT, key="fuzz/check", value="ok")  # raises unless STORE_OK
    assert ask(cluster.store.port, MsgType.STORE_GET, key="fuzz/check")["value"] == "ok"
    assert welcome(cluster)["node"] == "broker"
    stats = ask(cluster.port, MsgType.STATS_GET)
    assert [w["state"] for w in stats["workers"]] == ["READY"], stats["workers"]
    script = write_script(tmp_path, "fuzz_job.sh", 'echo "fuzz-ok $TITAN_JOB_ID"\n')
    with TitanClient(host="127.0.0.1", port=cluster.port, timeout=10) as client:
        job_id = client.submit_job(TitanJob(unique_id("fuzz"), script))
        assert client.wait(job_id, timeout=60) == "COMPLETED", cluster.stderr()
        assert "fuzz-ok %s" % job_id in client.fetch_logs(job_id)
        assert client.store_get("fuzz/check") == "ok"
    return stats.get("malformed_from_workers")


def test_fuzz_nodes_survive_and_answer_by_the_rules(tmp_path):
    with Cluster(tmp_path / "fuzz", workers=[("fz1", [])]) as cluster:
        pids = {"store": cluster.store.proc.pid, "broker": cluster.broker.proc.pid}
        before = {name: peak_rss(pid) for name, pid in pids.items()}
        counts, failures = Counter(), []
        started = time.monotonic()
        biggest = fuzz(cluster, counts, failures)
        took = time.monotonic() - started
        assert not alive(cluster), "\n".join(failures[-1:])
        grown = {name: peak_rss(pid) - before[name] for name, pid in pids.items()}
        # Per port, a case and a silent one still arriving may be in flight together; the broker has two ports.
        bound = {name: ports * 2 * biggest + KEPT_BYTES + SLACK_BYTES for name, ports in PORTS_OF.items()}
        malformed = still_serves(cluster, tmp_path)
    print("fuzz: seed %d, %d cases in %.1f s; the largest message %d bytes"
          % (SEED, sum(counts.values()), took, biggest))
    for (port, reply), n in sorted(counts.items()):
        print("  %-20s %-60s %6d" % (port, reply, n))
    print("  peak RSS growth: %s; broker STATS malformed_from_workers %s" % (", ".join(
        "%s %.1f MiB (bound %d MiB)" % (k, v / 2 ** 20, bound[k] >> 20) for k, v in grown.items()), malformed))
    assert not failures, "fuzz seed %d: %d cases answered against the rules (replay: TITAN_FUZZ_SEED=%d " \
        "TITAN_FUZZ_ONLY=<case>):\n%s" % (SEED, len(failures), SEED, "\n".join(failures[:SHOWN]))
    assert all(grown[k] <= bound[k] for k in grown), "peak RSS grew past its bound: %s > %s" % (grown, bound)
