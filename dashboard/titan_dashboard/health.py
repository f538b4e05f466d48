# /healthz and /readyz (docs/observability.md). /healthz: the dashboard's process serves requests. /readyz: the
# cluster behind it can do work: the broker's loop answers within a deadline and its journal is writable
# (STATS has no read_only), and TitanStore answers with its disk writable. Not ready is 503 with the reasons.
# Neither needs a login: they say only whether Titan is up, never what it holds.
import asyncio
from typing import Callable, List

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from titan_sdk.errors import TitanError, TitanTimeoutError


def _read_only(families) -> bool:
    for f in families:
        if f.name == "titan_read_only":
            return any(s.value for s in f.samples)
    return False


class Readiness:
    """Asks the broker and the store, in parallel, each through its own client (made by `make_client`, whose
    timeout is the deadline), whether they can work now."""

    def __init__(self, make_client: Callable[[], object], deadline_s: float):
        self.make_client = make_client
        self.deadline_s = deadline_s
        self._clients = {}

    def _client(self, which: str):
        if which not in self._clients:
            self._clients[which] = self.make_client()
        return self._clients[which]

    def _broker(self) -> List[str]:
        try:
            stats = self._client("broker").get_stats()
        except TitanTimeoutError:
            return ["the broker did not answer within %g s: it is down, or its loop is not turning" % self.deadline_s]
        except TitanError as e:
            return ["the broker refused: %s" % e]
        if stats.get("read_only"):
            return ["the broker's journal is not writable: %s" % (stats.get("read_only_reason") or "its disk is full")]
        return []

    def _store(self) -> List[str]:
        try:
            families = self._client("store").metrics(store=True)
        except TitanTimeoutError as e:
            return ["TitanStore cannot be reached (%s)" % e]
        except TitanError as e:
            return ["TitanStore refused: %s" % e]
        return ["TitanStore's disk is full: it refuses writes"] if _read_only(families) else []

    async def reasons(self) -> List[str]:
        """Why the cluster is not ready ([]: it is)."""
        broker, store = await asyncio.gather(asyncio.to_thread(self._broker), asyncio.to_thread(self._store))
        return broker + store


async def healthz(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok\n")


async def readyz(request: Request) -> PlainTextResponse:
    reasons = await request.app.state.readiness.reasons()
    if not reasons:
        return PlainTextResponse("ready\n")
    return PlainTextResponse("not ready: %s\n" % "; ".join(reasons), 503)


ROUTES = [Route("/healthz", healthz), Route("/readyz", readyz)]
