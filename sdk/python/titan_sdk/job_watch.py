# wait()'s and wait_dag()'s event feed: one SUB socket per client on the broker's PUB port, subscribed to
# "job." (every EVENT_JOB), owned and read by one daemon thread, which hands each event to the waiters
# registered for its job id. No connection and no request per event: a waiter asks the broker only to
# close the race at its start and as the fallback below.
#
# PUB/SUB may lose events: those published before the subscription reached the broker (the first moments
# of a client's first wait, a reconnect), and those a full queue drops. So a waiter never relies on an event
# alone: after registering it asks the broker once for the job's state (JOB_GET), and while no event settles
# it, it asks again every RECHECK_S seconds (RECHECK_FIRST_S until the feed has delivered anything at all,
# doubling from there). A lost event thus costs at most RECHECK_S of latency, never a wrong answer or a hang.
#
# A submission followed from before it was sent (track(), by submit_job and submit_async once the feed has
# been seen to work) needs no such check: every event of its jobs reaches the waiter, and JOB_ACCEPTED's
# submitted_ms tells them from the late events of an earlier run of a reused id. wait() then takes the
# tracker over (claim()) and asks the broker only as the fallback, or when the feed was lost. At most
# TRACKED_MAX submitted jobs are followed this way; the oldest is forgotten first (its wait checks).
#
# Brokers sharing a PostgreSQL journal (client.py, brokers.py): the feed follows the leader. When the SUB
# socket's connection to the PUB drops (the broker died or stopped), every waiter rechecks at once, and that
# JOB_GET finds the leader (the client's request/reply path follows it). Once the client talks to another
# broker than the one whose feed the socket follows, follow() moves the socket to the new broker's PUB and
# every waiter rechecks at once: events published during the switch are never waited for.
import os
import threading
import time
from collections import OrderedDict
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol
from .errors import TitanError
from .protocol import MsgType
from .transport import MAX_ZMQ_FRAME

RECHECK_S = 2.0  # the fallback: a waiter with no news asks the broker this often
RECHECK_FIRST_S = 0.05  # ... starting here (doubling) while the feed has not been seen to work yet
TRACKED_MAX = 10000  # submitted jobs followed from before their submission was sent (track())
_TOPIC = b"job."

# (state, ts_ms) of one EVENT_JOB
Event = Tuple[str, int]


class Waiter:
    """One wait()'s (or wait_dag()'s) registration: the events of its job ids, in arrival order."""

    def __init__(self, ids: Iterable[str]):
        self.ids: Set[str] = set(ids)
        self.events: List[Tuple[str, Event]] = []  # (job id, event), guarded by the JobWatch's condition
        self.recheck = False  # the feed was lost or moved: ask the broker now (guarded likewise)
        # A tracker (JobWatch.track): when the broker accepted the run; its events carry no earlier ts_ms.
        self.submitted_ms: Optional[int] = None
        # A tracker nobody waits on yet keeps its events' frames undecoded (most are never waited for).
        self.raw: Optional[List[List[bytes]]] = None


class JobWatch:
    """The feed of one client. `endpoint()` gives the PUB endpoint of the broker in use (asked on first use and
    after a failover); `broker()` names the broker the client uses now, without I/O (a change moves the feed:
    follow()); `credential` makes the SUB socket a CURVE client. start() is lazy (first register()); close()
    stops the thread and closes the socket. A forked child gets a watch of its own on first use (the parent's
    thread does not exist there)."""

    def __init__(self, endpoint: Callable[[], str], credential=None, broker: Callable[[], str] = lambda: ""):
        self._endpoint = endpoint
        self._broker = broker
        self._credential = credential
        self._source: Optional[str] = None  # broker() when the feed's socket was connected
        self._follow_lock = threading.Lock()  # one follow() at a time moves the socket
        self.pub: Optional[str] = None  # the PUB endpoint the socket follows
        self.moves = 0  # times the socket moved to another broker's PUB (follow())
        self.losses = 0  # times its connection to the PUB dropped
        self._cond = threading.Condition()
        self._waiters: Dict[str, List[Waiter]] = {}
        self._tracked: "OrderedDict[str, Waiter]" = OrderedDict()  # track(): by job id, oldest first
        self._thread: Optional[threading.Thread] = None
        self._control: Optional[zmq.Socket] = None  # inproc PAIR to the thread: b"stop" ends it
        self._pid = os.getpid()
        self.delivered = 0  # events read from the feed so far (any job): > 0 means the subscription works
        # Tests: with drop_events, the thread reads events and throws them away (counting them in `dropped`),
        # as if the feed had lost them; waits must then finish through the fallback checks.
        self.drop_events = False
        self.dropped = 0
        self.closed = False

    # ---- for waiters -----------------------------------------------------------------------------------

    def register(self, ids: Iterable[str]) -> Waiter:
        """Starts delivering the events of `ids` to a new Waiter (subscribe first, then check the state)."""
        self._after_fork()
        self._start()
        w = Waiter(ids)
        with self._cond:
            for job_id in w.ids:
                self._waiters.setdefault(job_id, []).append(w)
        return w

    def add(self, w: Waiter, ids: Iterable[str]) -> None:
        """Delivers the events of more ids to `w` as well."""
        with self._cond:
            for job_id in set(ids) - w.ids:
                w.ids.add(job_id)
                self._waiters.setdefault(job_id, []).append(w)

    def unregister(self, w: Waiter) -> None:
        with self._cond:
            self._unregister(w)

    def _unregister(self, w: Waiter) -> None:
        for job_id in w.ids:
            ws = self._waiters.get(job_id, [])
            if w in ws:
                ws.remove(w)
            if not ws:
                self._waiters.pop(job_id, None)

    # ---- for submissions -------------------------------------------------------------------------------

    def track(self, ids: Iterable[str]) -> Optional[Dict[str, Waiter]]:
        """Before a submission of `ids` is sent: a Waiter per id that receives its events from now on, so that a
        wait() after the submission needs no check of the broker (claim()). None when the feed is not running
        here or has not been seen to work yet: wait() then checks as usual."""
        with self._cond:
            if self._thread is None or self.closed or not self.delivered or self._pid != os.getpid():
                return None
            out = {}
            for job_id in ids:
                self._drop(job_id)
                w = Waiter([job_id])
                w.raw = []
                self._waiters.setdefault(job_id, []).append(w)
                self._tracked[job_id] = out[job_id] = w
            while len(self._tracked) > TRACKED_MAX:
                self._drop(next(iter(self._tracked)))
            return out

    def accepted(self, trackers: Optional[Dict[str, Waiter]], ids: Iterable[str], submitted_ms: Optional[int]) -> None:
        """The broker accepted `ids` at `submitted_ms`. Trackers of ids it did not accept, or of a broker that does
        not say when (submitted_ms None), are dropped."""
        if not trackers:
            return
        accepted = set(ids) if submitted_ms is not None else set()
        with self._cond:
            for job_id, w in trackers.items():
                if job_id in accepted and self._tracked.get(job_id) is w:
                    w.submitted_ms = submitted_ms
                elif self._tracked.get(job_id) is w:
                    self._drop(job_id)

    def untrack(self, trackers: Optional[Dict[str, Waiter]]) -> None:
        """The submission failed or went unanswered: its trackers are dropped."""
        self.accepted(trackers, (), None)

    def claim(self, job_id: str) -> Optional[Waiter]:
        """The accepted tracker of `job_id`, now the caller's (unregister() it when done); None when there is none, or
        when the client now talks to another broker than the one whose feed the socket follows (a failover: the
        wait must check, which moves the feed)."""
        with self._cond:
            w = self._tracked.get(job_id)
            if w is None or w.submitted_ms is None:
                return None
            if self._broker() != self._source:
                self._drop(job_id)
                return None
            del self._tracked[job_id]
            for frames in w.raw or ():
                event = _event(frames)
                if event is not None:
                    w.events.append(event)
            w.raw = None
            return w

    def _drop(self, job_id: str) -> None:
        """Under the condition: forgets the tracker of `job_id`, if any."""
        w = self._tracked.pop(job_id, None)
        if w is not None:
            self._unregister(w)

    def next_events(self, w: Waiter, until: float) -> List[Tuple[str, Event]]:
        """The events delivered to `w` since the last call; waits for one until the monotonic time `until`.
        [] then, when the watch closed, or at once when the feed was lost or moved: the waiter must ask the
        broker now (the events it holds come with the next call)."""
        with self._cond:
            while not w.events and not w.recheck and not self.closed:
                left = until - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if w.recheck:
                w.recheck = False
                return []
            out, w.events = w.events, []
            return out

    def follow(self) -> None:
        """Called by waiters after each check of the broker: when the client now talks to another broker than
        the one whose feed the socket follows (a failover), the socket moves to that broker's PUB and every
        waiter rechecks at once. A broker that does not answer leaves the socket where it is until the next
        call (the waiters' periodic checks keep them right meanwhile)."""
        if self._thread is None or self._broker() == self._source:
            return
        with self._follow_lock:
            if self._broker() == self._source:
                return  # another waiter moved it meanwhile
            try:
                pub = self._endpoint()  # may itself move the client on (NOT_LEADER): named after it
            except TitanError:
                return
            source = self._broker()
            with self._cond:
                if self.closed or self._control is None:
                    return
                self._source, self.pub = source, pub
                self._control.send(b"sub " + pub.encode())
                self.moves += 1
                self._recheck_all()

    def _recheck_all(self) -> None:
        """Under the condition: every waiter asks the broker now."""
        for ws in self._waiters.values():
            for w in ws:
                w.recheck = True
        self._cond.notify_all()

    def recheck_interval(self, previous: Optional[float]) -> float:
        """Seconds until a waiter's next fallback check of the broker (`previous`: its last interval)."""
        if self.delivered:
            return RECHECK_S
        return RECHECK_FIRST_S if previous is None else min(RECHECK_S, previous * 2)

    # ---- the thread ------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stops the thread (it closes its SUB socket) and wakes every waiter. Idempotent."""
        with self._cond:
            self.closed = True
            thread, control = self._thread, self._control
            self._thread, self._control = None, None
            if control is not None and self._pid == os.getpid():
                control.send(b"stop")
            self._cond.notify_all()
        if thread is not None and self._pid == os.getpid() and thread is not threading.current_thread():
            thread.join(10)
        if control is not None and self._pid == os.getpid():
            control.close(linger=0)

    def _after_fork(self) -> None:
        """In a forked child: forget the parent's thread, sockets and waiters (its condition too: a parent
        thread may have held it at the fork)."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            self._cond = threading.Condition()
            self._thread, self._control = None, None
            self._follow_lock = threading.Lock()
            self._source, self.pub = None, None
            self._waiters.clear()
            self._tracked.clear()
            self.delivered = 0

    def _start(self) -> None:
        with self._cond:
            if self.closed:
                raise TitanError("this TitanClient is closed; create a new one")
            if self._thread is not None:
                return
            ctx = zmq.Context.instance()
            address = "inproc://titan-job-watch-%x-%d" % (id(self), os.getpid())
            control = ctx.socket(zmq.PAIR)
            control.setsockopt(zmq.LINGER, 0)
            control.bind(address)
            pub = self._endpoint()
            self._source, self.pub = self._broker(), pub
            sub = self._subscribe(ctx, pub)
            theirs = ctx.socket(zmq.PAIR)
            theirs.setsockopt(zmq.LINGER, 0)
            theirs.connect(address)
            self._control = control
            self._thread = threading.Thread(target=self._run, args=(sub, theirs), name="titan-job-watch",
                                            daemon=True)
            self._thread.start()

    def _subscribe(self, ctx: zmq.Context, endpoint: str) -> zmq.Socket:
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        if self._credential is not None:
            self._credential.apply(sub)
        sub.setsockopt(zmq.MAXMSGSIZE, MAX_ZMQ_FRAME)
        sub.setsockopt(zmq.RCVHWM, 100000)  # as the broker's SNDHWM: a burst of events is not dropped here
        if endpoint.startswith("tcp://["):
            sub.setsockopt(zmq.IPV6, 1)
        sub.setsockopt(zmq.SUBSCRIBE, _TOPIC)
        sub.connect(endpoint)
        return sub

    def _run(self, sub: zmq.Socket, control: zmq.Socket) -> None:
        """The thread: reads events, moves the socket on b"sub <endpoint>", ends on b"stop"."""
        monitor = sub.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        poller = None
        try:
            while True:
                if poller is None:
                    poller = zmq.Poller()
                    for s in (sub, control, monitor):
                        poller.register(s, zmq.POLLIN)
                ready = dict(poller.poll())
                if control in ready:
                    command = control.recv()
                    if not command.startswith(b"sub "):
                        return  # b"stop"
                    self._close_sub(sub, monitor)
                    sub = self._subscribe(zmq.Context.instance(), command[4:].decode())
                    monitor = sub.get_monitor_socket(zmq.EVENT_DISCONNECTED)
                    poller = None
                    continue
                if monitor in ready and recv_monitor_message(monitor)["event"] == zmq.EVENT_DISCONNECTED:
                    with self._cond:  # the broker went away: its successor is found by asking
                        self.losses += 1
                        self._recheck_all()
                if sub in ready:
                    self._deliver(sub)
        except zmq.ZMQError:
            return  # the context is terminating (interpreter exit): waiters fall back to asking the broker
        finally:
            self._close_sub(sub, monitor)
            control.close(linger=0)

    @staticmethod
    def _close_sub(sub: zmq.Socket, monitor: zmq.Socket) -> None:
        sub.disable_monitor()
        monitor.close(linger=0)
        sub.close(linger=0)

    def _deliver(self, sub: zmq.Socket) -> None:
        """Reads every event waiting on `sub` and hands those with a waiter to it."""
        batch = []
        while True:
            try:
                frames = sub.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            if len(frames) < 2 or not frames[0].startswith(_TOPIC):
                continue
            batch.append(frames)
        if batch:
            self._hand_out(batch)

    def _hand_out(self, batch: List[List[bytes]]) -> None:
        """Gives each event of `batch` (a topic frame, then the message's) to the waiters of its job."""
        with self._cond:
            if self.drop_events:
                self.dropped += len(batch)
                return
            self.delivered += len(batch)
            woke = False
            for frames in batch:
                waiters = self._waiters.get(frames[0][len(_TOPIC):].decode("utf-8", "replace"))
                if not waiters:
                    continue
                event = None
                for w in waiters:
                    if w.raw is not None:
                        w.raw.append(frames)  # decoded if someone waits for it (claim)
                        continue
                    event = event or _event(frames)
                    if event is not None:
                        w.events.append(event)
                        woke = True
            if woke:
                self._cond.notify_all()


def _event(frames: List[bytes]) -> Optional[Tuple[str, Event]]:
    """(job id, (state, ts_ms)) of one EVENT_JOB's frames; None when unreadable (the waiter's fallback check
    covers it)."""
    ev = protocol.decode(frames[1:])
    if not ev.ok or ev.type != MsgType.EVENT_JOB:
        return None
    return ev.fields["id"], (ev.fields["state"], ev.fields["ts_ms"])
