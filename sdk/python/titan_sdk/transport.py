# One ZeroMQ DEALER socket to one Titan node: a request goes out with a fresh `rid` and the call waits,
# up to a deadline, for the reply carrying that rid; a Pipeline keeps several requests in flight and
# matches their replies by rid (file transfers). Not thread-safe: the owner (TitanClient) serializes
# calls with its lock. Survives fork(): a child process abandons the parent's socket and makes its own.
import itertools
import os
import random
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol
from .credentials import Credential, reread
from .errors import (AuthenticationError, NoReplyError, TitanNodeError, TitanProtocolError, TitanTimeoutError,
                     TooLargeError, error_from_reply)
from .protocol import Decoded, MsgType

_LINGER_MS = 200  # on close(): a short grace for a request still in the send queue
# Nodes drop the connection, without any reply, on a frame over this (ZMQ_MAXMSGSIZE, docs/protocol.md
# section 7); clients set the same limit for replies. Frames up to it reach the node, which answers TOO_LARGE
# itself past the schema's limits, so only frames the node could never answer are refused here.
MAX_ZMQ_FRAME = 2 * protocol.MAX_BODY_BYTES


_HANDSHAKE_FAILURES = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                       | zmq.EVENT_HANDSHAKE_FAILED_AUTH)


class CredentialChanged(AuthenticationError):
    """A handshake was refused, and the credential file changed meanwhile (`titan keys rotate`): the connection
    uses the new one from now on. Connection.request sends its request again; a Pipeline raises it."""


class Connection:
    """A lazily connected DEALER socket to `endpoint` ("tcp://host:port").

    Invariant: outside a Pipeline, at most one request is outstanding on the socket. A call (or a
    Pipeline) that ends without all its replies (deadline, protocol error, interrupt) closes the socket,
    so a late reply can never be read as the answer to a later request; the next call connects again.

    A refused handshake re-reads the credential file: when it changed, the connection takes the new one
    (and tells `on_new_credential`), so a client survives `titan keys rotate`.
    """

    def __init__(self, endpoint: str, unreachable_hint: str, credential: Optional[Credential] = None,
                 on_new_credential: Optional[Callable[[Credential], None]] = None):
        self.endpoint = endpoint
        self._hint = unreachable_hint  # appended to the timeout message: what the user should check
        self._credential = credential  # None: plaintext (only a keyless node on loopback accepts it)
        self._on_new_credential = on_new_credential
        self._sock: Optional[zmq.Socket] = None
        self._monitor: Optional[zmq.Socket] = None  # the socket's handshake failures, for a clear error
        self._pid = os.getpid()
        self._rids = itertools.count(random.getrandbits(31) + 1)

    def request(self, msg_type: MsgType, fields: Dict[str, Any], timeout: float,
                blobs: Iterable[bytes] = ()) -> Decoded:
        """Sends one request (with raw `blobs` frames after the body) and returns its reply (the type
        REPLIES names).

        Raises TitanTimeoutError when nothing answers within `timeout` seconds, a TitanNodeError
        subclass when the node answers ERROR, TitanProtocolError when the reply is not Titan's.
        """
        blobs = list(blobs)
        for again in (False, True):
            rid = next(self._rids)
            frames = self._frames(msg_type, rid, fields, blobs)
            sock = self._socket()
            done = False
            try:
                sock.send_multipart([b""] + frames, copy=False)
                reply = self._await_reply(sock, {rid}, time.monotonic() + timeout, timeout)
                done = True
            except CredentialChanged:
                if again:
                    raise
                continue  # once more, with the credential file as it is now
            finally:
                if not done:
                    self._reset()
            return self._check(msg_type, reply)
        raise AssertionError("unreachable")

    def pipeline(self, timeout: float) -> "Pipeline":
        """A Pipeline on this connection: several requests in flight, each reply due within `timeout`
        seconds of the previous one (or of the first send). Use it in a `with` block."""
        return Pipeline(self, timeout)

    def close(self) -> None:
        if self._sock is not None and self._pid == os.getpid():
            self._close_monitor()
            self._sock.close(linger=_LINGER_MS)
        self._sock = None

    def _socket(self) -> zmq.Socket:
        if self._pid != os.getpid():  # forked: the parent's socket and context are not ours to use
            self._sock = None
            self._monitor = None
            self._pid = os.getpid()
        if self._sock is None:
            sock = zmq.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, _LINGER_MS)
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_ZMQ_FRAME)
            if self.endpoint.startswith("tcp://["):
                sock.setsockopt(zmq.IPV6, 1)
            if self._credential is not None:
                self._credential.apply(sock)
            self._monitor = sock.get_monitor_socket(_HANDSHAKE_FAILURES)
            sock.connect(self.endpoint)
            self._sock = sock
        return self._sock

    def _reset(self) -> None:
        if self._sock is not None and self._pid == os.getpid():
            self._close_monitor()
            self._sock.close(linger=0)
        self._sock = None

    def _close_monitor(self) -> None:
        if self._monitor is not None:
            self._sock.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None

    def _raise_if_refused(self) -> None:
        """Raises AuthenticationError when the monitor saw the handshake fail (CredentialChanged when the
        credential file changed meanwhile: the next socket uses the new one)."""
        while self._monitor is not None and self._monitor.poll(0, zmq.POLLIN):
            event = recv_monitor_message(self._monitor)
            if event["event"] & _HANDSHAKE_FAILURES:
                self._reset()
                refusal = self._refusal(event)
                fresh = reread(self._credential) if self._credential is not None else None
                if fresh is None:
                    raise AuthenticationError(refusal)
                self._credential = fresh
                if self._on_new_credential is not None:
                    self._on_new_credential(fresh)
                raise CredentialChanged("%s; %s changed meanwhile and is used from now on: retry"
                                        % (refusal, fresh.path))

    def _refusal(self, event: Dict[str, Any]) -> str:
        who = ("principal %r (%s)" % (self._credential.principal, self._credential.path)
               if self._credential is not None else "no credential")
        if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            why = ("the node at %s refused %s: the key is unknown there or was revoked, or its role may not use this "
                   "port (a broker's worker port admits only role worker)" % (self.endpoint, who))
        elif self._credential is None:
            why = "the node at %s requires a credential (CURVE)" % self.endpoint
        else:
            why = "the CURVE handshake with %s failed for %s (does the node use these keys?)" % (self.endpoint, who)
        return "authentication failed: %s; pass --credentials or set TITAN_CREDENTIALS" % why

    def _frames(self, msg_type: MsgType, rid: int, fields: Dict[str, Any], blobs: Iterable[bytes]) -> List[bytes]:
        frames = protocol.encode(msg_type, dict(fields, rid=rid), blobs)
        biggest = max(len(f) for f in frames)
        if biggest > MAX_ZMQ_FRAME:
            raise TooLargeError("a %s frame of %d bytes is over %d; a node drops such a connection without "
                                "answering. Keys must be at most %d bytes and values %d bytes"
                                % (msg_type.name, biggest, MAX_ZMQ_FRAME, protocol.MAX_KEY_BYTES,
                                   protocol.MAX_VALUE_BYTES))
        return frames

    def _await_reply(self, sock: zmq.Socket, rids: Set[int], deadline: float, timeout: float) -> Decoded:
        """The next reply whose rid is in `rids`; with one rid, a reply without a readable rid too."""
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        if self._monitor is not None:
            poller.register(self._monitor, zmq.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            ready = dict(poller.poll(max(1, int(remaining * 1000)))) if remaining > 0 else {}
            if self._monitor is not None and self._monitor in ready:
                self._raise_if_refused()
                continue
            if sock not in ready:
                if time.monotonic() < deadline:
                    continue  # woke early (signal); wait for the rest of the time
                raise NoReplyError("no reply from %s within %g s: %s" % (self.endpoint, timeout, self._hint))
            parts = sock.recv_multipart()
            if parts and not parts[0]:
                parts = parts[1:]  # the empty delimiter a ROUTER peer sends back
            reply = protocol.decode(parts)
            if reply.rid is not None and reply.rid not in rids:
                continue  # the answer to an older request: not ours
            if reply.rid is None and len(rids) != 1:
                raise TitanProtocolError("%s sent a reply without its rid while %d requests were in flight; it "
                                         "cannot be matched (%s)" % (self.endpoint, len(rids),
                                                                     reply.reason or reply.type))
            # A reply without a readable rid is still ours when only one request is outstanding.
            if not reply.ok:
                raise TitanProtocolError("%s sent a reply this client cannot read (%s: %s)"
                                         % (self.endpoint, reply.status, reply.reason))
            return reply

    def _check(self, msg_type: MsgType, reply: Decoded) -> Decoded:
        if reply.type == MsgType.ERROR:
            raise error_from_reply(reply.fields["code"], reply.fields["reason"], reply.fields.get("leader"))
        want = protocol.REPLIES[msg_type]
        if reply.type != want:
            self._reset()
            raise TitanProtocolError("%s answered %s with %s; expected %s"
                                     % (self.endpoint, msg_type.name, reply.type.name, want.name))
        return reply


class Pipeline:
    """Requests in flight together on one Connection, their replies matched by `rid` (the schema's
    envelope field): the credit-based transfers of the artifact dialog. Single-threaded, like its
    Connection. Leaving the `with` block with replies still due (an error, a deadline) resets the
    socket, so those late replies can never be read as answers to later requests.
    """

    def __init__(self, conn: Connection, timeout: float):
        self._conn = conn
        self._timeout = timeout
        self._pending: Dict[int, MsgType] = {}  # rid -> request type, in send order

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._pending:
            self._pending.clear()
            self._conn._reset()

    @property
    def in_flight(self) -> int:
        """Requests sent whose reply has not been received yet."""
        return len(self._pending)

    def send(self, msg_type: MsgType, fields: Dict[str, Any], blobs: Iterable[bytes] = ()) -> int:
        """Sends one request without waiting; returns its rid."""
        rid = next(self._conn._rids)
        frames = self._conn._frames(msg_type, rid, fields, blobs)
        sock = self._conn._socket()
        sock.send_multipart([b""] + frames, copy=False)
        self._pending[rid] = msg_type
        return rid

    def receive(self) -> Tuple[int, Decoded]:
        """(rid, reply) of the next reply to arrive for a request in flight. Raises as Connection.request
        does: TitanTimeoutError when none arrives within the timeout, the TitanNodeError of an ERROR."""
        rid, reply, refusal = self.receive_outcome()
        if refusal is not None:
            raise refusal
        return rid, reply

    def receive_outcome(self) -> Tuple[int, Optional[Decoded], Optional[TitanNodeError]]:
        """As receive(), but a request the node refused comes back as (rid, None, its TitanNodeError) rather
        than raised, so the caller knows which request it answers. Still raises for anything that is not
        the node's answer (timeout, protocol error, refused handshake)."""
        if not self._pending:
            raise RuntimeError("Pipeline.receive() with no request in flight")
        sock = self._conn._socket()
        reply = self._conn._await_reply(sock, set(self._pending), time.monotonic() + self._timeout, self._timeout)
        rid = reply.rid if reply.rid is not None else next(iter(self._pending))
        msg_type = self._pending.pop(rid)
        try:
            return rid, self._conn._check(msg_type, reply), None
        except TitanNodeError as refusal:
            return rid, None, refusal
