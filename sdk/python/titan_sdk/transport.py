# One ZeroMQ DEALER socket to one Titan node: a request goes out with a fresh `rid` and the call waits,
# up to a deadline, for the reply carrying that rid. Not thread-safe: the owner (TitanClient) serializes
# calls with its lock. Survives fork(): a child process abandons the parent's socket and makes its own.
import itertools
import os
import random
import time
from typing import Any, Dict, Optional

import zmq

from . import protocol
from .errors import TitanProtocolError, TitanTimeoutError, TooLargeError, error_from_reply
from .protocol import Decoded, MsgType

_LINGER_MS = 200  # on close(): a short grace for a request still in the send queue
# Nodes drop the connection, without any reply, on a frame over this (ZMQ_MAXMSGSIZE, docs/protocol.md
# section 7); clients set the same limit for replies. Frames up to it reach the node, which answers TOO_LARGE
# itself past the schema's limits, so only frames the node could never answer are refused here.
MAX_ZMQ_FRAME = 2 * protocol.MAX_BODY_BYTES


class Connection:
    """A lazily connected DEALER socket to `endpoint` ("tcp://host:port").

    Invariant: at most one request is outstanding on the socket. A call that ends without its reply
    (deadline, protocol error, interrupt) closes the socket, so a late reply can never be read as the
    answer to a later request; the next call connects again.
    """

    def __init__(self, endpoint: str, unreachable_hint: str):
        self.endpoint = endpoint
        self._hint = unreachable_hint  # appended to the timeout message: what the user should check
        self._sock: Optional[zmq.Socket] = None
        self._pid = os.getpid()
        self._rids = itertools.count(random.getrandbits(31) + 1)

    def request(self, msg_type: MsgType, fields: Dict[str, Any], timeout: float) -> Decoded:
        """Sends one request and returns its reply (the type REPLIES names).

        Raises TitanTimeoutError when nothing answers within `timeout` seconds, a TitanNodeError
        subclass when the node answers ERROR, TitanProtocolError when the reply is not Titan's.
        """
        rid = next(self._rids)
        frames = protocol.encode(msg_type, dict(fields, rid=rid))
        biggest = max(len(f) for f in frames)
        if biggest > MAX_ZMQ_FRAME:
            raise TooLargeError("a %s frame of %d bytes is over %d; a node drops such a connection without "
                                "answering. Keys must be at most %d bytes and values %d bytes"
                                % (msg_type.name, biggest, MAX_ZMQ_FRAME, protocol.MAX_KEY_BYTES,
                                   protocol.MAX_VALUE_BYTES))
        sock = self._socket()
        done = False
        try:
            sock.send_multipart([b""] + frames, copy=False)
            reply = self._await_reply(sock, rid, time.monotonic() + timeout, timeout)
            done = True
        finally:
            if not done:
                self._reset()
        return self._check(msg_type, reply)

    def close(self) -> None:
        if self._sock is not None and self._pid == os.getpid():
            self._sock.close(linger=_LINGER_MS)
        self._sock = None

    def _socket(self) -> zmq.Socket:
        if self._pid != os.getpid():  # forked: the parent's socket and context are not ours to use
            self._sock = None
            self._pid = os.getpid()
        if self._sock is None:
            sock = zmq.Context.instance().socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, _LINGER_MS)
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_ZMQ_FRAME)
            if self.endpoint.startswith("tcp://["):
                sock.setsockopt(zmq.IPV6, 1)
            sock.connect(self.endpoint)
            self._sock = sock
        return self._sock

    def _reset(self) -> None:
        if self._sock is not None and self._pid == os.getpid():
            self._sock.close(linger=0)
        self._sock = None

    def _await_reply(self, sock: zmq.Socket, rid: int, deadline: float, timeout: float) -> Decoded:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(max(1, int(remaining * 1000)), zmq.POLLIN):
                if time.monotonic() < deadline:
                    continue  # woke early (signal); wait for the rest of the time
                raise TitanTimeoutError("no reply from %s within %g s: %s" % (self.endpoint, timeout, self._hint))
            parts = sock.recv_multipart()
            if parts and not parts[0]:
                parts = parts[1:]  # the empty delimiter a ROUTER peer sends back
            reply = protocol.decode(parts)
            if reply.rid is not None and reply.rid != rid:
                continue  # the answer to an older request: not ours
            # A reply without a readable rid is still ours: only one request is ever outstanding.
            if not reply.ok:
                raise TitanProtocolError("%s sent a reply this client cannot read (%s: %s)"
                                         % (self.endpoint, reply.status, reply.reason))
            return reply

    def _check(self, msg_type: MsgType, reply: Decoded) -> Decoded:
        if reply.type == MsgType.ERROR:
            raise error_from_reply(reply.fields["code"], reply.fields["reason"])
        want = protocol.REPLIES[msg_type]
        if reply.type != want:
            self._reset()
            raise TitanProtocolError("%s answered %s with %s; expected %s"
                                     % (self.endpoint, msg_type.name, reply.type.name, want.name))
        return reply
