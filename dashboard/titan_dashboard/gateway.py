# The dashboard's door to the broker: every SDK call runs on a worker thread (the SDK blocks), and its
# outcome says whether the broker is reachable. A call that times out or cannot connect raises
# BrokerUnavailable, which every page shows as "broker unavailable" until the broker answers again.
import asyncio
from typing import Any, Callable, Dict, Optional, Union

from titan_sdk import TitanClient
from titan_sdk.brokers import Address, BrokerList
from titan_sdk.credentials import Credential
from titan_sdk.errors import TitanTimeoutError

from .options import Options


class BrokerUnavailable(Exception):
    """The broker did not answer in time; the message says where it was looked for and what to check."""


class Gateway:
    """Makes SDK clients for the broker the dashboard serves and runs their calls off the event loop."""

    def __init__(self, opts: Options):
        self.opts = opts
        self.up: Optional[bool] = None  # None until the first call or health check
        self.reason = ""
        # The broker's read-only mode (a full disk) as the last health check saw it: views.read_only_state.
        self.read_only: Optional[Dict[str, Any]] = None
        # Brokers sharing a PostgreSQL journal (--host a,b): the leader the last health check found (events.py),
        # named first to new clients, so they do not wait on a broker that is gone. None: not known yet.
        self.leader: Optional[Address] = None

    @property
    def address(self) -> str:
        """Where the broker is: the leader last seen, else --host (and --port) as given."""
        if self.leader is not None:
            return ("[%s]:%d" if ":" in self.leader[0] else "%s:%d") % self.leader
        if "," in self.opts.broker_host:
            return self.opts.broker_host
        return "%s:%d" % (self.opts.broker_host, self.opts.broker_port)

    def client(self, credentials: Union[str, Credential, None], timeout_s: Optional[float] = None) -> TitanClient:
        """A client of the broker with `credentials` (a file, a Credential, or None: the SDK finds one); its calls
        wait `timeout_s` (default: call_timeout_s)."""
        return TitanClient(host=self.hosts(), port=self.opts.broker_port,
                           timeout=timeout_s or self.opts.call_timeout_s, credentials=credentials)

    def hosts(self) -> str:
        """The brokers for a new client (TitanClient's host): --host as given, the leader last seen first."""
        if self.leader is None:
            return self.opts.broker_host
        listed = BrokerList(self.opts.broker_host, self.opts.broker_port).addresses
        return ",".join(("[%s]:%d" if ":" in h else "%s:%d") % (h, p)
                        for h, p in [self.leader] + [a for a in listed if a != self.leader])

    def first_broker(self) -> Address:
        """The first broker --host names (a credential `titan up` linked is found for it)."""
        return BrokerList(self.opts.broker_host, self.opts.broker_port).current

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs) on a worker thread. Raises BrokerUnavailable when the broker does not answer;
        the SDK's own errors (ForbiddenError, InvalidError, ...) pass through."""
        try:
            result = await asyncio.to_thread(fn, *args, **kwargs)
        except TitanTimeoutError as e:
            self.mark(False, str(e))
            raise BrokerUnavailable("the broker at %s does not answer; is it running? (%s)" % (self.address, e)) \
                from None
        self.mark(True)
        return result

    def mark(self, up: bool, reason: str = "") -> None:
        self.up, self.reason = up, ("" if up else reason)
