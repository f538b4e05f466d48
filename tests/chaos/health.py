# Whether every node of a chaos cluster runs and answers: the store and the broker each answer a request,
# and every worker is registered with the broker as READY. Waits on that with a deadline, never on time.
import time
from typing import Dict, List

from cluster import Cluster
from titan_sdk.errors import TitanError
from titan_sdk.protocol import MsgType
from titan_sdk.transport import Connection

ASK_TIMEOUT_S = 2.0
POLL_S = 0.1


class NodeExited(AssertionError):
    """A node process ended without the test ending it: a crash."""


def ask(port: int, msg_type: MsgType, timeout: float = ASK_TIMEOUT_S, **fields) -> Dict:
    """One request to the node on 127.0.0.1:`port`, on a socket of its own; its reply's fields."""
    conn = Connection("tcp://127.0.0.1:%d" % port, "is the chaos cluster running?")
    try:
        return conn.request(msg_type, fields, timeout).fields
    finally:
        conn.close()


def welcome(cluster: Cluster) -> Dict:
    """The broker's WELCOME: its worker, event and store ports."""
    return ask(cluster.port, MsgType.HELLO, client="titan-chaos")


def check_running(cluster: Cluster) -> None:
    """Raises NodeExited when a node process has ended."""
    for node in [cluster.store, cluster.broker] + list(cluster.workers.values()):
        code = node.proc.poll() if node.proc is not None else None
        if code is not None:
            raise NodeExited("%s exited with code %s; its stderr ends:\n%s" % (node.role, code, node.stderr()))


def problems(cluster: Cluster) -> List[str]:
    """What is not well now: nodes that do not answer, workers not READY (empty when all is well)."""
    check_running(cluster)
    found = []
    try:
        stats = ask(cluster.port, MsgType.STATS_GET)
        ready = {w["name"] for w in stats["workers"] if w["state"] == "READY"}
        found += ["worker %s is not READY at the broker" % n for n in sorted(set(cluster.workers) - ready)]
    except TitanError as e:
        found.append("the broker does not answer STATS_GET: %s" % e)
    try:
        if ask(cluster.store.port, MsgType.HELLO)["node"] != "store":
            found.append("the store's port answers as another node")
    except TitanError as e:
        found.append("the store does not answer HELLO: %s" % e)
    return found


def wait_healthy(cluster: Cluster, deadline_s: float, after: str) -> float:
    """Waits until problems() is empty; returns the seconds it took. Raises AssertionError (naming `after`,
    what happened before) when the deadline passes, NodeExited at once when a node ended."""
    start = time.monotonic()
    while True:
        found = problems(cluster)
        if not found:
            return time.monotonic() - start
        if time.monotonic() - start > deadline_s:
            raise AssertionError("after %s the cluster was not well within %g s: %s\n%s"
                                 % (after, deadline_s, "; ".join(found), cluster.stderr()))
        time.sleep(POLL_S)
