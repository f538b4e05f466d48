# Reading a job's log (its combined stdout+stderr as the broker keeps it): what is there now via
# JOB_LOGS, and, when following, what comes next via the broker's PUB feed ("log.<id>", "job.<id>").
# Every byte is delivered exactly once: chunks are placed by offset, a gap is filled with JOB_LOGS.
import codecs
from typing import Callable, Iterator, List, Optional, Tuple

import zmq

from . import protocol
from .job import FINAL_STATES
from .protocol import MsgType
from .transport import MAX_ZMQ_FRAME

CHUNK_BYTES = 2 * 1024 * 1024  # the most one JOB_LOGS returns
# With nothing on the feed for this long, ask the broker directly: an event published before our
# subscription reached the broker is lost, and must not leave us waiting forever.
QUIET_CHECK_S = 1.0

# read(offset) -> (bytes at offset, complete): one JOB_LOGS call; complete once the job has ended and
# everything it wrote has been returned.
ReadFn = Callable[[int], Tuple[bytes, bool]]


class LogReader:
    """Tracks how far a log has been delivered; hands out each byte once, decoded as UTF-8."""

    def __init__(self, read: ReadFn):
        self._read = read
        self.offset = 0
        self.complete = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def catch_up(self) -> List[str]:
        """JOB_LOGS from the current offset until nothing more comes (or the log is complete)."""
        out = []
        while True:
            data, self.complete = self._read(self.offset)
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


def follow(read: ReadFn, pub_endpoint: Optional[str], job_id: str, credential=None) -> Iterator[str]:
    """Yields the log of `job_id` (a resolved id, not "DAG-...") in chunks: without `pub_endpoint`
    what is there now, with it everything until the broker reports the log complete (the job ended).
    The SUB socket subscribes before the first JOB_LOGS, so live events overlap the backlog rather
    than miss part of it. `credential` (credentials.Credential) makes the SUB socket a CURVE client."""
    reader = LogReader(read)
    if pub_endpoint is None:
        yield from _nonempty(reader.catch_up())
        return
    sub = _subscribe(pub_endpoint, job_id, credential)
    try:
        yield from _nonempty(reader.catch_up())
        topics = {("log." + job_id).encode(), ("job." + job_id).encode()}
        while not reader.complete:
            if not sub.poll(int(QUIET_CHECK_S * 1000), zmq.POLLIN):
                yield from _nonempty(reader.catch_up())
                continue
            frames = sub.recv_multipart()
            if len(frames) < 2 or frames[0] not in topics:
                continue  # subscriptions are prefixes: "log.a" also gets "log.ab"
            yield from _nonempty(_on_event(reader, protocol.decode(frames[1:])))
    finally:
        sub.close(linger=0)


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
