# One port the fuzzer sends to (the store, the broker's client port, the broker's worker port): what it
# serves, what it must answer to a case (computed with the SDK's codec, which follows the checks of
# docs/protocol.md section 4.3 in the same order as the nodes), and the exchange itself over a DEALER.
from dataclasses import dataclass
from typing import FrozenSet, List, Optional, Tuple

import zmq

from fuzz_cases import Case
from titan_sdk import protocol
from titan_sdk.protocol import MESSAGE_SPECS, MsgType
from titan_sdk.transport import MAX_ZMQ_FRAME

REPLY_TIMEOUT_MS = 10_000
NO_REPLY = "no reply"
KEPT_BYTES = 2 * protocol.MAX_BODY_BYTES  # what a node keeps of one message (transport.h kMaxKeptBytes)
CODEC_ERRORS = ("MALFORMED", "WRONG_VERSION", "UNKNOWN_TYPE", "TOO_LARGE")
# What a node may answer to a request it serves, besides its success reply: its own checks (step 11, 12).
NODE_ERRORS = ("INVALID", "NOT_FOUND", "TOO_LARGE", "WRONG_TYPE")


def _directions(*names: str) -> FrozenSet[int]:
    return frozenset(int(t) for t, spec in MESSAGE_SPECS.items() if spec.direction in names)


@dataclass(frozen=True)
class Port:
    """`serves`: the message types this port handles; `unserved`: what a decodable message of another
    type gets; `safe`: the served types a valid random message of which may be sent (reads, writes of
    the fuzzer's own keys, worker messages from an unknown peer, which only get DISCONNECT)."""

    name: str
    serves: FrozenSet[int]
    unserved: str
    safe: FrozenSet[int]
    store: bool = False


STORE = Port("store", _directions("client -> store", "client -> node"), "UNKNOWN_TYPE",
             _directions("client -> store", "client -> node"), True)
BROKER = Port("broker client port", _directions("client -> broker", "client -> node"),
              "UNKNOWN_TYPE", frozenset(int(t) for t in (
                  MsgType.HELLO, MsgType.AUDIT_LIST, MsgType.METRICS_GET, MsgType.STATS_GET, MsgType.JOB_GET,
                  MsgType.JOB_LIST, MsgType.JOB_LOGS, MsgType.DAG_LIST, MsgType.DAG_GET, MsgType.RUN_LIST,
                  MsgType.SCHEDULE_LIST, MsgType.ARTIFACT_STAT, MsgType.ARTIFACT_LIST, MsgType.ARTIFACT_READ)))
WORKERS = Port("broker worker port", _directions("worker -> broker", "both") | {int(MsgType.ARTIFACT_READ)},
               "DISCONNECT", (_directions("worker -> broker", "both") | {int(MsgType.ARTIFACT_READ)})
               - {int(MsgType.WORKER_READY)})  # a valid WORKER_READY would register a worker


@dataclass
class Expect:
    """What a case must get: `code` an ERROR code or "DISCONNECT", or "" for a served request (then its
    success reply or a node-level error); `rid` the request id the reply must echo (None: none required);
    `unsafe`: a valid message this fuzzer must not send (it would change the cluster)."""

    code: str = ""
    rid: Optional[int] = None
    unsafe: bool = False
    reply_type: str = ""


def expect(port: Port, case: Case) -> Expect:
    frames = list(case.frames)
    if case.bare and frames and frames[0] == b"":
        frames = frames[1:]  # the node takes a leading empty frame for the delimiter
    if case.silent:
        return Expect(NO_REPLY)
    if len(frames) > protocol.MAX_FRAMES or sum(len(f) for f in frames) > KEPT_BYTES:
        return Expect("TOO_LARGE")
    d = protocol.decode(frames)
    echo = d.rid if port is not WORKERS else None  # the worker port answers codec errors without rid
    if not d.ok:
        return Expect(d.status, echo if d.status in ("UNKNOWN_TYPE", "MALFORMED") else None)
    if int(d.type) not in port.serves:
        return Expect(port.unserved, echo if port.unserved == "UNKNOWN_TYPE" else None)
    if case.expect:
        return Expect(case.expect, d.rid)
    reply = "DISCONNECT" if port is WORKERS else protocol.REPLIES[d.type].name
    return Expect("", d.rid, int(d.type) not in port.safe, reply)


def reply_code(parts: List[bytes]) -> Tuple[str, Optional[int]]:
    """(the ERROR code, or the reply's type name, or "undecodable: why"; the reply's rid)."""
    if parts and not parts[0]:
        parts = parts[1:]
    d = protocol.decode(parts)
    if not d.ok:
        return "undecodable: %s %s" % (d.status, d.reason), None
    if d.type == MsgType.ERROR:
        return d.fields["code"], d.rid
    return d.type.name, d.rid


class Exchange:
    """A DEALER to one port, one case at a time: send, then read its one reply (within REPLY_TIMEOUT_MS).
    A case without a reply (silent on purpose, or a timeout) gets a new socket, so that a late reply is
    never read as the answer to the next case. Single-threaded."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self._sock: Optional[zmq.Socket] = None

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            self._sock = zmq.Context.instance().socket(zmq.DEALER)
            self._sock.setsockopt(zmq.LINGER, 0)
            self._sock.setsockopt(zmq.MAXMSGSIZE, MAX_ZMQ_FRAME)
            self._sock.connect(self.endpoint)
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(linger=0)
            self._sock = None

    def send(self, case: Case) -> Tuple[str, Optional[int]]:
        frames = list(case.frames) if case.bare else [b""] + list(case.frames)
        if case.silent:  # on a socket of its own, dropped by the node: nothing comes back
            sock = zmq.Context.instance().socket(zmq.DEALER)
            sock.connect(self.endpoint)
            sock.send_multipart(frames, copy=False)
            sock.close(linger=2000)
            return NO_REPLY, None
        sock = self._socket()
        sock.send_multipart(frames, copy=False)
        if not sock.poll(REPLY_TIMEOUT_MS):
            self.close()
            return NO_REPLY, None
        return reply_code(sock.recv_multipart())
