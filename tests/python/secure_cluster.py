# Helpers for tests of a cluster with CURVE on: the `titan keys` commands, the endpoints the broker
# announces, and sockets whose connection is watched on a ZeroMQ socket monitor. Every wait has a
# deadline; none sleeps.
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterable, List, Tuple

import zmq
from zmq.utils.monitor import recv_monitor_message

from cluster import Cluster
from node_process import titan_bin
from titan_sdk import TitanClient
from titan_sdk.credentials import load_credential
from titan_sdk.protocol import MsgType
from titan_sdk.transport import Connection

DEADLINE_S = 30
_CONNECTION_EVENTS = (zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                      | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


def client(cluster, cred=None) -> TitanClient:
    """A TitanClient of `cluster` with credential file `cred` (None: the SDK finds one, or plaintext)."""
    return TitanClient(host="127.0.0.1", port=cluster.port, timeout=10, credentials=str(cred) if cred else None)


def titan(*args) -> subprocess.CompletedProcess:
    """`titan ARGS`, which must succeed; its output as text."""
    return subprocess.run([str(titan_bin())] + list(args), capture_output=True, text=True, timeout=30, check=True)


def keyed_cluster(root: Path, principals: Dict[str, str], **cluster_args) -> Tuple[Cluster, Dict[str, Path]]:
    """A started Cluster under `root` with CURVE on: a keys folder from `titan keys init` and a credential file per
    principal ({name: role}; the admin's is "admin"). Its workers use the credential of the first principal with
    role worker. Returns (cluster, {name: credential file}); stop() the cluster."""
    keys = root / "keys"
    titan("keys", "init", "--keys", str(keys))
    creds = {"admin": keys / "admin.cred"}
    for name, role in principals.items():
        creds[name] = root / (name + ".cred")
        titan("keys", "add", name, "--role", role, "--keys", str(keys), "--out", str(creds[name]))
    worker = next(creds[name] for name, role in principals.items() if role == "worker")
    return Cluster(root, keys=keys, worker_credential=worker, **cluster_args).start(), creds


def endpoints(port: int, admin_credential) -> Dict[str, str]:
    """tcp:// of the client, worker, event and store sockets of the broker at `port`, from its WELCOME."""
    conn = Connection("tcp://127.0.0.1:%d" % port, "", load_credential(admin_credential))
    try:
        welcome = conn.request(MsgType.HELLO, {"client": "test"}, 10).fields
    finally:
        conn.close()
    return {name: "tcp://127.0.0.1:%d" % p for name, p in
            (("client", port), ("worker", welcome["worker_port"]), ("events", welcome["pub_port"]),
             ("store", welcome["store_port"]))}


class Watched:
    """A socket of `kind` connected to `endpoint` with credential file `cred` (None: plaintext), and a
    monitor of its connection: handshakes and disconnections. close() it."""

    def __init__(self, endpoint: str, cred=None, kind=zmq.DEALER, topics: Iterable[bytes] = ()):
        self.sock = zmq.Context.instance().socket(kind)
        self.sock.linger = 0
        if cred is not None:
            load_credential(cred).apply(self.sock)
        for topic in topics:
            self.sock.subscribe(topic)
        self.monitor = self.sock.get_monitor_socket(_CONNECTION_EVENTS)
        self.sock.connect(endpoint)

    def next_event(self, deadline: float) -> int:
        """The next connection event (zmq.EVENT_*), waited for until `deadline` (time.monotonic())."""
        left_ms = int((deadline - time.monotonic()) * 1000)
        assert left_ms > 0 and self.monitor.poll(left_ms), "no connection event before the deadline"
        return recv_monitor_message(self.monitor)["event"]

    def events_until(self, wanted: int, deadline: float) -> List[int]:
        """The connection events up to and including the first one in `wanted` (a mask of zmq.EVENT_*)."""
        seen = [self.next_event(deadline)]
        while not seen[-1] & wanted:
            seen.append(self.next_event(deadline))
        return seen

    def receive(self, topic: bytes, deadline: float) -> List[bytes]:
        """The next message whose first frame is `topic` (a SUB socket), waited for until `deadline`."""
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            assert left_ms > 0 and self.sock.poll(left_ms), "no %r message before the deadline" % topic
            frames = self.sock.recv_multipart()
            if frames[0] == topic:
                return frames

    def drain(self) -> int:
        """Reads whatever is waiting; returns how many messages that was."""
        n = 0
        while self.sock.poll(0):
            self.sock.recv_multipart()
            n += 1
        return n

    def close(self) -> None:
        self.sock.disable_monitor()
        self.monitor.close(0)
        self.sock.close(0)


def handshake(endpoint: str, cred=None, kind=zmq.DEALER) -> str:
    """"ok" or "refused": how a connection to `endpoint` with credential file `cred` (None: plaintext) ends."""
    watched = Watched(endpoint, cred, kind)
    try:
        event = watched.events_until(~zmq.EVENT_DISCONNECTED, time.monotonic() + DEADLINE_S)[-1]
        return "ok" if event == zmq.EVENT_HANDSHAKE_SUCCEEDED else "refused"
    finally:
        watched.close()
