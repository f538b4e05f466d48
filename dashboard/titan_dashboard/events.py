# EventHub: follows the broker's event PUB socket (one SUB socket, subscribed to everything) and hands each
# event to the browsers' streams that want it. A health check (HELLO and STATS every few seconds) tells when
# the broker is down or back, where its event socket is now (a restarted broker may announce another port),
# and when it turns read-only (its disk is full) or writable again. Brokers sharing a PostgreSQL journal
# (--host a,b): the health check finds the leader (a standby answers NOT_LEADER naming it; a silent broker
# is passed over for the next) and the feed follows it.
# Owned by the event loop's thread: everything here runs on it, apart from HELLO on a worker thread.
import asyncio
import logging
from typing import Any, Callable, Dict, Optional, Set

import zmq
import zmq.asyncio
from titan_sdk import protocol
from titan_sdk.brokers import Address, BrokerList
from titan_sdk.errors import NotLeaderError
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
        self._pub: Optional[tuple] = None  # (broker address, pub port) the SUB socket follows
        self._brokers = BrokerList(gateway.opts.broker_host, gateway.opts.broker_port)  # the health check's
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
        while True:
            welcome, read_only, leader = await asyncio.to_thread(_find_leader, self._brokers, self.credential,
                                                                 opts.health_interval_s)
            was_up = self.gateway.up
            if isinstance(welcome, dict):
                self.gateway.mark(True)
                self.gateway.leader = leader
                if (leader, welcome.get("pub_port")) != self._pub:
                    self._subscribe(leader, welcome.get("pub_port"))
                if read_only is not UNKNOWN:
                    self.note_read_only(read_only)
            else:
                self.gateway.mark(False, welcome)
            if was_up != self.gateway.up:
                self.publish({"type": "broker", "up": self.gateway.up, "reason": self.gateway.reason})
            await asyncio.sleep(opts.health_interval_s)

    def _subscribe(self, broker: Address, port: Optional[int]) -> None:
        if self._sub is not None:
            self._sub.close(linger=0)
            self._sub = None
        self._pub = (broker, port)
        if port is None:
            return
        sub = zmq.asyncio.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.MAXMSGSIZE, MAX_ZMQ_FRAME)
        if self.credential is not None:
            self.credential.apply(sub)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        host = broker[0]
        sub.connect("tcp://[%s]:%d" % (host, port) if ":" in host else "tcp://%s:%d" % (host, port))
        self._sub = sub
        log.info("following the events of the broker at %s:%d on port %d", host, broker[1], port)

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


def _find_leader(brokers: BrokerList, credential, timeout: float):
    """_hello() of the leader among `brokers`, and its address: a standby's NOT_LEADER sends it to the leader
    named, silence to the next broker, each at most twice; a standby naming no leader (it is taking over) is
    reported as such and asked again at the next check."""
    welcome, read_only = "no broker answered", UNKNOWN
    for _ in range(2 * len(brokers)):
        address = brokers.current
        host, port = address
        welcome, read_only = _hello("tcp://[%s]:%d" % address if ":" in host else "tcp://%s:%d" % address,
                                    credential, timeout)
        if isinstance(welcome, dict):
            return welcome, read_only, address
        if isinstance(read_only, NotLeaderError):
            if read_only.leader is None or not brokers.not_leader(read_only.leader):
                return "the broker at %s:%d is a standby taking over (%s)" % (host, port, read_only.reason), \
                    UNKNOWN, address
        elif len(brokers) > 1:
            brokers.no_answer()
        else:
            break
    return welcome, UNKNOWN, brokers.current


def _hello(endpoint: str, credential, timeout: float):
    """(the broker's WELCOME fields, or a str saying why there is none; its read-only mode from STATS as
    views.read_only_state gives it, or UNKNOWN when STATS was not answered, or the NotLeaderError of a
    standby)."""
    conn = Connection(endpoint, "is the broker running?", credential)
    try:
        welcome = dict(conn.request(MsgType.HELLO, {"client": "titan-dashboard"}, timeout).fields)
    except NotLeaderError as e:  # a standby: _find_leader goes to the leader it names
        conn.close()
        return str(e), e
    except Exception as e:  # any failure means "not reachable now"; the reason is shown to the operator
        conn.close()
        return str(e), UNKNOWN
    try:
        return welcome, views.read_only_state(conn.request(MsgType.STATS_GET, {}, timeout).fields)
    except Exception:  # e.g. a credential without the read permission: read-only mode stays unknown
        return welcome, UNKNOWN
    finally:
        conn.close()
