# A scripted Titan node for client tests: a ROUTER socket on tcp://127.0.0.1:* served by its own thread,
# answering each request with whatever `respond(decoded, frames)` returns (a list of replies to send).
import threading
from typing import Callable, List

import zmq

from titan_sdk import protocol
from titan_sdk.protocol import MsgType

Reply = List[bytes]
Responder = Callable[[protocol.Decoded, List[bytes]], List[Reply]]


def welcome(node="store", **extra):
    """A responder that answers HELLO with WELCOME(node, extra fields)."""
    def respond(d, frames):
        fields = dict(node=node, version="test", rid=d.rid, **extra)
        return [protocol.encode(MsgType.WELCOME, fields)]
    return respond


class FakeNode:
    """Owns its sockets on its own thread; the test thread only starts and stops it."""

    def __init__(self, respond: Responder):
        self.respond = respond
        self.requests: List[protocol.Decoded] = []  # appended by the node thread
        self._ctx = zmq.Context()
        self._router = self._ctx.socket(zmq.ROUTER)
        self._router.setsockopt(zmq.LINGER, 0)
        self.port = self._router.bind_to_random_port("tcp://127.0.0.1")
        self._stop_rx = self._ctx.socket(zmq.PAIR)
        self._stop_rx.bind("inproc://stop-%d" % id(self))
        self._stop_tx = self._ctx.socket(zmq.PAIR)
        self._stop_tx.connect("inproc://stop-%d" % id(self))
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "FakeNode":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_tx.send(b"")
        self._thread.join(10)
        assert not self._thread.is_alive(), "fake node did not stop"
        self._stop_tx.close(0)
        self._ctx.term()

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._stop_rx, zmq.POLLIN)
        while True:
            events = dict(poller.poll())
            if self._stop_rx in events:
                break
            identity, delim, *frames = self._router.recv_multipart()
            d = protocol.decode(frames)
            self.requests.append(d)
            for reply in self.respond(d, frames):
                self._router.send_multipart([identity, delim] + reply)
        self._router.close(0)
        self._stop_rx.close(0)
