# A job's log for a page: its tail (a huge log is not sent whole; the page links to the full download) and
# the slices after an offset. Blocking: run on a worker thread. `read(offset, max_bytes)` is one JOB_LOGS call
# returning (bytes, next_offset, complete), e.g. functools.partial(client.read_log, job_id).
import codecs
from typing import Callable, Dict, Iterator, Tuple

from titan_sdk.logs import log_end, read_range  # noqa: F401 (log_end: part of this module's interface)

ReadFn = Callable[[int, int], Tuple[bytes, int, bool]]
CHUNK = 2 * 1024 * 1024  # the most one JOB_LOGS returns


def _text(data: bytes) -> str:
    """Bytes as text; a multi-byte character cut at either end becomes U+FFFD, never an error."""
    return codecs.decode(data, "utf-8", errors="replace")


def tail(read: ReadFn, tail_bytes: int) -> Dict[str, object]:
    """The last `tail_bytes` of the log: {text, start, next_offset, truncated (bytes before `start` exist),
    complete}."""
    end = log_end(read)
    start = max(0, end - tail_bytes)
    slice_ = since(read, start, tail_bytes + CHUNK)
    slice_["start"], slice_["truncated"] = start, start > 0
    return slice_


def since(read: ReadFn, offset: int, limit: int) -> Dict[str, object]:
    """Up to `limit` bytes from `offset`: {text, next_offset, complete}."""
    data, pos, complete = read_range(read, offset, limit)
    return {"text": _text(data), "next_offset": pos, "complete": complete}


def whole(read: ReadFn) -> Iterator[bytes]:
    """Every byte of the log, chunk by chunk (the download)."""
    pos = 0
    while True:
        data, pos, complete = read(pos, CHUNK)
        if data:
            yield data
        if not data or complete:
            return
