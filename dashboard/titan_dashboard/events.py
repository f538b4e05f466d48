# EventHub: follows the broker's event PUB socket (one SUB socket, subscribed to everything) and hands each
# event to the browsers' streams that want it. A health check (HELLO every few seconds) tells when the broker
# is down or back, and where its event socket is now (a restarted broker may announce another port).
# Owned by the event loop's thread: everything here runs on it, apart from HELLO on a worker thread.
import asyncio
import logging
from typing import Any, Callable, Dict, Optional, Set

import zmq
import zmq.asyncio
from titan_sdk import protocol
from titan_sdk.protocol import MsgType
from titan_sdk.transport import MAX_ZMQ_FRAME, Connection

from . import views
from .gateway import Gateway

log = logging.getLogger("titan_dashboard")
QUEUE_EVENTS = 2000  # a stream further behind than this is told to reload ("resync") instead

Event = Dict[str, Any]


class Stream:
    """One browser's feed: the events `wants` accepts, in order, or a "resync" when it fell behind."""

    def __init__(self, wants: Callable[[Event], bool]):
        self.wants = wants
        self.queue: "asyncio.Queue[Event]" = asyncio.Queue(QUEUE_EVENTS)

    def offer(self, event: Event) -> None:
        if not self.wants(event):
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait({"type": "resync"})


def to_event(frames: list) -> Optional[Event]:
    """A PUB message ([topic, body, blobs...]) as a JSON-ready dict; None when it is not an event we show."""
    if len(frames) < 2:
        return None
    ev = protocol.decode(frames[1:])
    if not ev.ok:
        return None
    fields = {k: v for k, v in ev.fields.items() if k != "rid"}
    if ev.type == MsgType.EVENT_JOB:
        return dict(fields, type="job")
    if ev.type == MsgType.EVENT_LOG:
        data = ev.blobs[0] if ev.blobs else b""
        return {"type": "log", "id": fields["id"], "offset": fields["offset"], "data": data}
    if ev.type == MsgType.EVENT_WORKER:
        worker = fields["worker"]
        return {"type": "worker", "event": fields["event"],
                "worker": dict(worker, metrics=views.machine_metrics(worker.get("machine")))}
    if ev.type == MsgType.EVENT_SCALE:
        return dict(fields["event"], type="scale")
    return None


class EventHub:
    def __init__(self, gateway: Gateway, credential):
        self.gateway = gateway
        self.credential = credential  # the dashboard's own (a role with `read`), or None on a keyless cluster
        self.streams: Set[Stream] = set()
        self.events_forwarded = 0
        self.lost: Dict[str, Dict[str, Any]] = {}  # workers whose last event was "lost": the Overview shows them
        self._sub: Optional[zmq.asyncio.Socket] = None
        self._pub_port: Optional[int] = None
        self._tasks: list = []

    def open(self, wants: Callable[[Event], bool]) -> Stream:
        stream = Stream(wants)
        self.streams.add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        self.streams.discard(stream)

    def publish(self, event: Event) -> None:
        if event["type"] == "worker":
            name = event["worker"]["name"]
            if event["event"] == "lost":
                self.lost[name] = event["worker"]
            else:
                self.lost.pop(name, None)
        for stream in list(self.streams):
            stream.offer(event)
        self.events_forwarded += 1

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._health()), asyncio.create_task(self._read())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._sub is not None:
            self._sub.close(linger=0)

    async def _health(self) -> None:
        opts = self.gateway.opts
        endpoint = "tcp://%s:%d" % (opts.broker_host, opts.broker_port)
        while True:
            welcome = await asyncio.to_thread(_hello, endpoint, self.credential, opts.health_interval_s)
            was_up = self.gateway.up
            if isinstance(welcome, dict):
                self.gateway.mark(True)
                if welcome.get("pub_port") != self._pub_port:
                    self._subscribe(welcome.get("pub_port"))
            else:
                self.gateway.mark(False, welcome)
            if was_up != self.gateway.up:
                self.publish({"type": "broker", "up": self.gateway.up, "reason": self.gateway.reason})
            await asyncio.sleep(opts.health_interval_s)

    def _subscribe(self, port: Optional[int]) -> None:
        if self._sub is not None:
            self._sub.close(linger=0)
            self._sub = None
        self._pub_port = port
        if port is None:
            return
        sub = zmq.asyncio.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.MAXMSGSIZE, MAX_ZMQ_FRAME)
        if self.credential is not None:
            self.credential.apply(sub)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        host = self.gateway.opts.broker_host
        sub.connect("tcp://[%s]:%d" % (host, port) if ":" in host else "tcp://%s:%d" % (host, port))
        self._sub = sub
        log.info("following the broker's events on port %d", port)

    async def _read(self) -> None:
        while True:
            sub = self._sub
            if sub is None:
                await asyncio.sleep(0.2)
                continue
            try:
                frames = await sub.recv_multipart()
            except zmq.ZMQError:
                await asyncio.sleep(0.2)  # the socket was replaced under us
                continue
            event = to_event(frames)
            if event is not None:
                self.publish(event)


def _hello(endpoint: str, credential, timeout: float):
    """The broker's WELCOME fields, or a str saying why there is none."""
    conn = Connection(endpoint, "is the broker running?", credential)
    try:
        return dict(conn.request(MsgType.HELLO, {"client": "titan-dashboard"}, timeout).fields)
    except Exception as e:  # any failure means "not reachable now"; the reason is shown to the operator
        return str(e)
    finally:
        conn.close()
