# EventHub: follows the broker's event PUB socket (one SUB socket, subscribed to everything) and hands each
# event to the browsers' streams that want it. A health check (HELLO and STATS every few seconds) tells when
# the broker is down or back, where its event socket is now (a restarted broker may announce another port),
# and when it turns read-only (its disk is full) or writable again.
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
UNKNOWN = object()  # the health check could not read the broker's STATS: its read-only mode is as it was

Event = Dict[str, Any]


class Stream:
    """One browser's feed: the events `wants` accepts, in order, or a "resync" when it fell behind."""

    def __init__(self, wants: Callable[[Event], bool], job_events: int = 0):
        self.wants = wants
        self.queue: "asyncio.Queue[Event]" = asyncio.Queue(QUEUE_EVENTS)
        self.job_events = job_events  # the hub's job_events when this feed began: it has every later one

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
        # Job events published so far. A page that loaded its data when the count was N and whose feed began
        # at another count missed job events in between, and loads again (stream.py, common.js).
        self.job_events = 0
        self.lost: Dict[str, Dict[str, Any]] = {}  # workers whose last event was "lost": the Overview shows them
        self._sub: Optional[zmq.asyncio.Socket] = None
        self._pub_port: Optional[int] = None
        self._tasks: list = []

    def open(self, wants: Callable[[Event], bool]) -> Stream:
        stream = Stream(wants, self.job_events)
        self.streams.add(stream)
        return stream

    def close(self, stream: Stream) -> None:
        self.streams.discard(stream)

    def note_read_only(self, state: Optional[Dict[str, Any]]) -> None:
        """The broker's read-only mode as a health check saw it (views.read_only_state); every page hears of a
        change ("readonly" event) and shows or clears its banner."""
        if state == self.gateway.read_only:
            return
        self.gateway.read_only = state
        if state:
            log.warning("the broker is read-only: %s", state["reason"])
        else:
            log.info("the broker is writable again")
        self.publish({"type": "readonly", "read_only": state})

    def publish(self, event: Event) -> None:
        if event["type"] == "worker":
            name = event["worker"]["name"]
            if event["event"] == "lost":
                self.lost[name] = event["worker"]
            else:
                self.lost.pop(name, None)
        self.job_events += event["type"] == "job"
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
            welcome, read_only = await asyncio.to_thread(_hello, endpoint, self.credential, opts.health_interval_s)
            was_up = self.gateway.up
            if isinstance(welcome, dict):
                self.gateway.mark(True)
                if welcome.get("pub_port") != self._pub_port:
                    self._subscribe(welcome.get("pub_port"))
                if read_only is not UNKNOWN:
                    self.note_read_only(read_only)
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
    """(the broker's WELCOME fields, or a str saying why there is none; its read-only mode from STATS as
    views.read_only_state gives it, or UNKNOWN when STATS was not answered)."""
    conn = Connection(endpoint, "is the broker running?", credential)
    try:
        welcome = dict(conn.request(MsgType.HELLO, {"client": "titan-dashboard"}, timeout).fields)
    except Exception as e:  # any failure means "not reachable now"; the reason is shown to the operator
        conn.close()
        return str(e), UNKNOWN
    try:
        return welcome, views.read_only_state(conn.request(MsgType.STATS_GET, {}, timeout).fields)
    except Exception:  # e.g. a credential without the read permission: read-only mode stays unknown
        return welcome, UNKNOWN
    finally:
        conn.close()
