# The brokers a client may talk to: one active, the others standbys on the same PostgreSQL journal
# (docs/operations.md, "Two brokers"). Given as "a,b" or "a:9090,b:9190" (TitanClient(host=...),
# TITAN_HOST): an entry without a port takes the default port. IPv6 literals go in brackets
# ("[::1]:9090"); a bare "::1" is one host. The same rules as the C++ side's base/broker_addresses.h.
import uuid
from typing import List, Optional, Tuple

Address = Tuple[str, int]


def parse_address(entry: str, default_port: int) -> Optional[Address]:
    """(host, port) of one "host", "host:port" or "[v6]:port" entry; None when it is not one."""
    entry = entry.strip()
    host, port = entry, ""
    if entry.startswith("["):
        close = entry.find("]")
        if close < 0:
            return None
        host, rest = entry[1:close], entry[close + 1:]
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    if not host:
        return None
    if port:
        if not port.isdigit():
            return None
        number = int(port)
    else:
        number = default_port
    return (host, number) if 1 <= number <= 65535 else None


def new_token() -> str:
    """A submission's idempotency token (JOB_SUBMIT.token, DAG_RERUN.token): unique per submission, the same
    on every send of it, so a broker that accepted it already answers that acceptance again."""
    return uuid.uuid4().hex


class BrokerList:
    """The addresses, in order, and which is in use. Pure: the caller reports what happened."""

    def __init__(self, hosts: str, default_port: int):
        self.addresses: List[Address] = []
        for entry in hosts.split(","):
            if not entry.strip():
                continue
            address = parse_address(entry, default_port)
            if address is None:
                raise ValueError("broker address %r is not host, host:port or [ipv6]:port with a port from 1 to "
                                 "65535" % entry.strip())
            if address not in self.addresses:
                self.addresses.append(address)
        if not self.addresses:
            raise ValueError("no broker address given; name one or more as host[:port], comma-separated")
        self._current = 0

    def __len__(self) -> int:
        return len(self.addresses)

    @property
    def current(self) -> Address:
        return self.addresses[self._current]

    def no_answer(self) -> None:
        """The current address did not answer in time: the next one becomes current (wrapping around)."""
        self._current = (self._current + 1) % len(self.addresses)

    def not_leader(self, leader: Optional[str]) -> bool:
        """The current address is a standby naming `leader` ("host:port"; None when it names none): the
        leader becomes current (added when not listed); otherwise the next address. Returns whether the
        address in use changed."""
        before = self.current
        named = parse_address(leader, self.current[1]) if leader else None
        if named is None or named == before:
            self.no_answer()
        else:
            if named not in self.addresses:
                self.addresses.append(named)
            self._current = self.addresses.index(named)
        return self.current != before
