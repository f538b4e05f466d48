# Reading a job's log (its combined stdout+stderr as the broker keeps it): what is there now via
# JOB_LOGS, and, when following, what comes next via the broker's PUB feed ("log.<id>", "job.<id>").
# Every byte is delivered exactly once: chunks are placed by offset, a gap is filled with JOB_LOGS.
# Brokers sharing a journal: the feed follows the leader (follow()).
import codecs
from typing import Callable, Iterator, List, Optional, Tuple, Union

import zmq
from zmq.utils.monitor import recv_monitor_message

from . import protocol
from .errors import TitanError
from .job import FINAL_STATES
from .protocol import MsgType
from .transport import MAX_ZMQ_FRAME

CHUNK_BYTES = 2 * 1024 * 1024  # the most one JOB_LOGS returns
# With nothing on the feed for this long, ask the broker directly: an event published before our
# subscription reached the broker is lost, and must not leave us waiting forever.
QUIET_CHECK_S = 1.0

# read(offset) -> (bytes at offset, complete): one JOB_LOGS call; complete once the job has ended and
# everything it wrote has been returned. May raise LogRestarted.
ReadFn = Callable[[int], Tuple[bytes, bool]]


class LogRestarted(Exception):
    """Raised by a ReadFn whose answer came from another broker than the previous one (a failover): each broker
    keeps job logs in its own --dir, so the new leader's log of the job is another file, holding what the job
    wrote from its worker's registration with it on. The reader goes on from that log's start."""


class LogReader:
    """Tracks how far a log has been delivered; hands out each byte once, decoded as UTF-8."""

    def __init__(self, read: ReadFn):
        self._read = read
        self.offset = 0
        self.complete = False
        self.restarts = 0  # times the log went on at another broker's (LogRestarted)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def catch_up(self) -> List[str]:
        """JOB_LOGS from the current offset until nothing more comes (or the log is complete). After a
        LogRestarted, from the start of the new broker's log."""
        out = []
        while True:
            try:
                data, self.complete = self._read(self.offset)
            except LogRestarted:
                self.offset = 0
                self.restarts += 1
                continue
            text = self.offer(self.offset, data)  # read at our offset: never a gap
            if text:
                out.append(text)
            if not data or self.complete:
                break
        tail = self.flush() if self.complete else ""
        return out + [tail] if tail else out

    def flush(self) -> str:
        """Bytes held back as the start of a multi-byte character, as replacement characters."""
        return self._decoder.decode(b"", final=True)

    def offer(self, offset: int, data: bytes) -> Optional[str]:
        """The not yet delivered part of `data` (which starts at `offset`) as text; None for a gap
        (it starts past what was delivered: the caller must catch_up)."""
        if offset > self.offset:
            return None
        end = offset + len(data)
        if end <= self.offset:
            return ""
        fresh = data[self.offset - offset:]
        self.offset = end
        return self._decoder.decode(fresh)


# read_slice(offset, max_bytes) -> (bytes at offset, the offset after them, complete): one JOB_LOGS call
# (TitanClient.read_log of one job).
SliceFn = Callable[[int, int], Tuple[bytes, int, bool]]


def log_end(read_slice: SliceFn) -> int:
    """The log's size now. JOB_LOGS does not report it, so: double a probe offset until it reads nothing, then
    bisect (about 2*log2(size) one-byte reads: 60 for a 1 GiB log)."""
    if not read_slice(0, 1)[0]:
        return 0
    low, high = 0, 1  # a byte exists at `low`; none is known at `high` yet
    while read_slice(high, 1)[0]:
        low, high = high, high * 2
    while high - low > 1:  # invariant: a byte at low, none at high
        mid = (low + high) // 2
        if read_slice(mid, 1)[0]:
            low = mid
        else:
            high = mid
    return high


def read_range(read_slice: SliceFn, offset: int, limit: int) -> Tuple[bytes, int, bool]:
    """Up to `limit` bytes from `offset`, in as many JOB_LOGS as that takes: (bytes, the offset after them,
    complete)."""
    parts, pos, complete = [], offset, False
    while pos - offset < limit:
        data, pos, complete = read_slice(pos, min(CHUNK_BYTES, limit - (pos - offset)))
        parts.append(data)
        if not data or complete:
            break
    return b"".join(parts), pos, complete


def read_all(read: ReadFn) -> str:
    """The whole log so far as one str."""
    reader = LogReader(read)
    return "".join(reader.catch_up()) + reader.flush()


def follow(read: ReadFn, pub_endpoint: Union[None, str, Callable[[], str]], job_id: str,
           credential=None) -> Iterator[str]:
    """Yields the log of `job_id` (a resolved id, not "DAG-...") in chunks: without `pub_endpoint`
    what is there now, with it everything until the broker reports the log complete (the job ended).
    The SUB socket subscribes before the first JOB_LOGS, so live events overlap the backlog rather
    than miss part of it. `credential` (credentials.Credential) makes the SUB socket a CURVE client.

    `pub_endpoint` may be a callable giving the PUB endpoint of the broker `read` uses now (cheap unless that
    broker changed): after each catch-up it is asked again, and when it names another endpoint (a failover:
    `read` found a new leader) the socket moves there; the catch-up that follows covers what was published
    meanwhile. When the socket's connection to the PUB drops, a catch-up happens at once (its JOB_LOGS finds
    the leader)."""
    reader = LogReader(read)
    if pub_endpoint is None:
        yield from _nonempty(reader.catch_up())
        return
    where = pub_endpoint if callable(pub_endpoint) else (lambda: pub_endpoint)
    feed = _Feed(where(), job_id, credential)
    try:
        yield from _nonempty(reader.catch_up())
        topics = {("log." + job_id).encode(), ("job." + job_id).encode()}
        while not reader.complete:
            frames = feed.next(QUIET_CHECK_S)
            if frames is None:  # quiet, or the connection dropped: ask the broker (the leader, after a failover)
                yield from _nonempty(reader.catch_up())
                if not reader.complete and feed.move(where):
                    yield from _nonempty(reader.catch_up())  # what was published while the socket moved
                continue
            if len(frames) < 2 or frames[0] not in topics:
                continue  # subscriptions are prefixes: "log.a" also gets "log.ab"
            yield from _nonempty(_on_event(reader, protocol.decode(frames[1:])))
    finally:
        feed.close()


class _Feed:
    """follow()'s SUB socket for one job's topics, with a monitor that tells when its connection drops."""

    def __init__(self, endpoint: str, job_id: str, credential):
        self.endpoint, self._job_id, self._credential = endpoint, job_id, credential
        self.moves = 0
        self._open()

    def _open(self) -> None:
        self._sub = _subscribe(self.endpoint, self._job_id, self._credential)
        self._monitor = self._sub.get_monitor_socket(zmq.EVENT_DISCONNECTED)
        self._poller = zmq.Poller()
        self._poller.register(self._sub, zmq.POLLIN)
        self._poller.register(self._monitor, zmq.POLLIN)

    def next(self, quiet_s: float) -> Optional[List[bytes]]:
        """The next message's frames; None after `quiet_s` without one, or when the connection dropped."""
        ready = dict(self._poller.poll(int(quiet_s * 1000)))
        if self._monitor in ready:
            recv_monitor_message(self._monitor)
            return None
        return self._sub.recv_multipart() if self._sub in ready else None

    def move(self, where: Callable[[], str]) -> bool:
        """Resubscribes at where() when that changed; whether it did. A broker that cannot say (it does not
        answer) leaves the socket where it is until the next call."""
        try:
            endpoint = where()
        except TitanError:  # no leader reachable now: the next quiet period asks again
            return False
        if endpoint == self.endpoint:
            return False
        self.close()
        self.endpoint = endpoint
        self.moves += 1
        self._open()
        return True

    def close(self) -> None:
        self._sub.disable_monitor()
        self._monitor.close(linger=0)
        self._sub.close(linger=0)


def _on_event(reader: LogReader, ev: protocol.Decoded) -> List[str]:
    if not ev.ok:
        return reader.catch_up()  # unreadable: refetch rather than guess
    if ev.type == MsgType.EVENT_LOG:
        text = reader.offer(ev.fields["offset"], ev.blobs[0] if ev.blobs else b"")
        return reader.catch_up() if text is None else [text]
    if ev.type == MsgType.EVENT_JOB and ev.fields["state"] in FINAL_STATES:
        return reader.catch_up()  # the broker now reports the log complete
    return []


def _subscribe(endpoint: str, job_id: str, credential=None) -> zmq.Socket:
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    if credential is not None:
        credential.apply(sub)
    sub.setsockopt(zmq.MAXMSGSIZE, MAX_ZMQ_FRAME)
    if endpoint.startswith("tcp://["):
        sub.setsockopt(zmq.IPV6, 1)
    for topic in ("log." + job_id, "job." + job_id):
        sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
    sub.connect(endpoint)
    return sub


def _nonempty(chunks: List[str]) -> List[str]:
    return [c for c in chunks if c]
