# GET /api/stream: the live feed of one page as Server-Sent Events. Every page gets job, worker, scaling,
# broker-status and read-only events (the broker's state first, with the count of job events published
# before the feed began: a page whose data is older loads it again); a page that follows a log
# (?log=ID&from=OFFSET) also gets that job's output from OFFSET on, each byte once and in order: a gap in the
# feed is filled with JOB_LOGS, and so is a quiet second.
import asyncio
import functools
import json
from typing import Any, AsyncIterator, Dict, Optional

from starlette.requests import Request
from starlette.responses import StreamingResponse
from titan_sdk.job import FINAL_STATES
from titan_sdk.logs import LogReader

from .gateway import BrokerUnavailable
from .web import api, need_session

KEEPALIVE_S = 15.0
QUIET_S = 1.0  # following a log: with nothing on the feed this long, ask the broker for more


def sse(kind: str, data: Dict[str, Any]) -> bytes:
    return ("event: %s\ndata: %s\n\n" % (kind, json.dumps(data, default=str))).encode()


class LogFollower:
    """A job's log from an offset on, as text: events are placed by offset; gaps are read from the broker."""

    def __init__(self, gateway, client, job_id: str, offset: int):
        self._gateway = gateway
        self.job_id = job_id
        read = functools.partial(client.read_log, job_id)
        self.reader = LogReader(lambda at: read(at)[0::2])  # (bytes, complete), as LogReader reads
        self.reader.offset = offset

    async def catch_up(self) -> str:
        return "".join(await self._gateway.call(self.reader.catch_up))

    async def offer(self, event: Dict[str, Any]) -> str:
        text = self.reader.offer(event["offset"], event["data"])
        return await self.catch_up() if text is None else text

    def chunk(self, text: str) -> bytes:
        return sse("log", {"text": text, "next_offset": self.reader.offset, "complete": self.reader.complete})


@api
async def stream(request: Request):
    session = need_session(request)
    state = request.app.state
    log_id = request.query_params.get("log") or None
    start = request.query_params.get("from") or "0"
    follower = LogFollower(state.gateway, session.client, log_id, int(start) if start.isdigit() else 0) \
        if log_id else None
    feed = state.hub.open(lambda ev: ev["type"] != "log" or ev["id"] == log_id)
    return StreamingResponse(_events(state, feed, follower), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def _events(state, feed, follower: Optional[LogFollower]) -> AsyncIterator[bytes]:
    gateway = state.gateway
    try:
        yield sse("broker", {"up": gateway.up, "reason": gateway.reason, "job_events": feed.job_events})
        yield sse("readonly", {"read_only": gateway.read_only})
        if follower is not None:
            yield await _safe_log(follower, follower.catch_up())
        while True:
            following = follower is not None and not follower.reader.complete
            try:
                event = await asyncio.wait_for(feed.queue.get(), QUIET_S if following else KEEPALIVE_S)
            except asyncio.TimeoutError:
                yield await _safe_log(follower, follower.catch_up()) if following else b": keepalive\n\n"
                continue
            if event["type"] == "log":
                yield await _safe_log(follower, follower.offer(event))
                continue
            if follower is not None and event["type"] == "job" and event["id"] == follower.job_id \
                    and event["state"] in FINAL_STATES:
                yield await _safe_log(follower, follower.catch_up())
            yield sse(event["type"], event)
    finally:
        state.hub.close(feed)


async def _safe_log(follower: LogFollower, pending) -> bytes:
    """The log chunk `pending` gives, as an event; nothing when the broker does not answer (retried later)."""
    try:
        text = await pending
    except BrokerUnavailable:
        return b""
    return follower.chunk(text) if text or follower.reader.complete else b""
