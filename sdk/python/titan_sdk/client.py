# TitanClient: the SDK's entry point. The user names only the broker (or a lone store); on the first store
# call the client says HELLO there, learns from WELCOME where TitanStore listens, and talks to it directly.
# Thread-safe (one lock per client) and fork-safe (a child process reconnects on its own sockets).
import os
import threading
from typing import Any, List, Optional, Union

from . import __version__
from .errors import TitanError, TitanTimeoutError
from .protocol import MsgType
from .transport import Connection

StoreData = Union[str, bytes]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9090
DEFAULT_TIMEOUT = 10.0


def _env_number(name: str, kind: type, default: Any) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError("%s=%r is not a valid %s" % (name, raw, kind.__name__)) from None


def _tcp(host: str, port: int) -> str:
    return "tcp://[%s]:%d" % (host, port) if ":" in host else "tcp://%s:%d" % (host, port)


def _data(what: str, x: Any) -> StoreData:
    """A key, value or member for the wire: str and bytes as they are, numbers via str()."""
    if isinstance(x, (str, bytes)):
        return x
    if isinstance(x, (bytearray, memoryview)):
        return bytes(x)
    if isinstance(x, (int, float)):
        return str(x)
    raise TypeError("%s must be str or bytes (int and float are converted with str()); got %s. "
                    "Serialize it first, e.g. json.dumps(...)" % (what, type(x).__name__))


class TitanClient:
    """A connection to a Titan cluster.

    `TitanClient()` reads TITAN_HOST / TITAN_PORT (default 127.0.0.1:9090) and TITAN_TIMEOUT (seconds,
    default 10); `TitanClient(host="localhost", port=9090)` names the broker explicitly. Every call
    raises TitanTimeoutError when nothing answers within `timeout`, and a TitanNodeError subclass
    (TooLargeError, WrongTypeError, ...) when the node refuses the request.
    """

    def __init__(self, host: Optional[str] = None, port: Optional[int] = None, timeout: Optional[float] = None):
        self.host = host or os.environ.get("TITAN_HOST", "").strip() or DEFAULT_HOST
        self.port = int(port) if port is not None else _env_number("TITAN_PORT", int, DEFAULT_PORT)
        self.timeout = float(timeout) if timeout is not None else _env_number("TITAN_TIMEOUT", float,
                                                                               DEFAULT_TIMEOUT)
        if self.timeout <= 0:
            raise ValueError("timeout must be positive seconds; got %r" % self.timeout)
        self.endpoint = _tcp(self.host, self.port)
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._closed = False
        self._entry = Connection(self.endpoint, self._hint())
        self._store: Optional[Connection] = None  # found by discovery, then cached

    # ---- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the sockets. Idempotent; calls afterwards raise TitanError."""
        with self._locked():
            self._closed = True
            if self._store is not None and self._store is not self._entry:
                self._store.close()
            self._entry.close()
            self._store = None

    def __enter__(self) -> "TitanClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "TitanClient(host=%r, port=%d, timeout=%g)" % (self.host, self.port, self.timeout)

    @property
    def store_endpoint(self) -> str:
        """Where TitanStore listens (discovers it on first use)."""
        with self._locked():
            return self._store_connection().endpoint

    # ---- TitanStore --------------------------------------------------------------------------------

    def store_put(self, key: Any, value: Any) -> bool:
        """Saves `value` under `key`. Returns True. A str comes back as str, bytes as bytes."""
        self._store_call(MsgType.STORE_PUT, key=_data("key", key), value=_data("value", value))
        return True

    def store_get(self, key: Any) -> Optional[StoreData]:
        """The value under `key` (str or bytes, as it was stored), or None when the key is missing."""
        reply = self._store_call(MsgType.STORE_GET, key=_data("key", key))
        return reply["value"] if reply["found"] else None

    def store_delete(self, key: Any) -> int:
        """Removes a value or a set. Returns 1 if the key existed, else 0."""
        return self._store_call(MsgType.STORE_DELETE, key=_data("key", key))["count"]

    def store_sadd(self, key: Any, member: Any) -> int:
        """Adds `member` to the set at `key`. Returns 1 if it is new, 0 if it was already there."""
        return self._store_call(MsgType.STORE_SADD, key=_data("key", key), member=_data("member", member))["count"]

    def store_srem(self, key: Any, member: Any) -> int:
        """Removes `member` from the set at `key`. Returns 1 if it was there, else 0."""
        return self._store_call(MsgType.STORE_SREM, key=_data("key", key), member=_data("member", member))["count"]

    def store_smembers(self, key: Any) -> List[StoreData]:
        """The members of the set at `key` in insertion order ([] when the key is missing)."""
        return self._store_call(MsgType.STORE_SMEMBERS, key=_data("key", key))["items"]

    def store_incr(self, key: Any, delta: int = 1) -> int:
        """Atomically adds `delta` to the integer at `key` (missing counts as 0); returns the new value."""
        if type(delta) is not int:
            raise TypeError("delta must be int; got %s" % type(delta).__name__)
        return self._store_call(MsgType.STORE_INCR, key=_data("key", key), delta=delta)["value"]

    def store_cas(self, key: Any, expected: Any, value: Any) -> bool:
        """Sets `key` to `value` only if it now holds `expected` (None: only if absent). True if swapped."""
        exp = None if expected is None else _data("expected", expected)
        reply = self._store_call(MsgType.STORE_CAS, key=_data("key", key), expected=exp,
                                 value=_data("value", value))
        return reply["swapped"]

    def store_keys(self, prefix: Any = "", limit: int = 1000) -> List[StoreData]:
        """Keys (values and sets) starting with `prefix`, in byte order, at most `limit` of them."""
        if type(limit) is not int:
            raise TypeError("limit must be int; got %s" % type(limit).__name__)
        return self._store_call(MsgType.STORE_KEYS, prefix=_data("prefix", prefix), limit=limit)["items"]

    # ---- plumbing ----------------------------------------------------------------------------------

    def _locked(self) -> threading.RLock:
        if self._pid != os.getpid():  # forked: a lock held by a parent thread would never be released
            self._pid = os.getpid()
            self._lock = threading.RLock()
        return self._lock

    def _store_call(self, msg_type: MsgType, **fields: Any) -> dict:
        with self._locked():
            conn = self._store_connection()
            try:
                return conn.request(msg_type, fields, self.timeout).fields
            except TitanTimeoutError:
                if conn is not self._entry:
                    self._store = None  # the broker may have moved the store: ask again next time
                raise

    def _store_connection(self) -> Connection:
        if self._closed:
            raise TitanError("this TitanClient is closed; create a new one")
        if self._store is None:
            welcome = self._entry.request(MsgType.HELLO, {"client": "titan-sdk-py/" + __version__},
                                          self.timeout).fields
            self._store = self._connection_from(welcome)
        return self._store

    def _connection_from(self, welcome: dict) -> Connection:
        port = welcome.get("store_port")
        if port is None:
            return self._entry  # the node we said HELLO to is the store itself
        host = welcome.get("store_host") or self.host
        endpoint = _tcp(host, port)
        return Connection(endpoint, "TitanStore at %s was announced by the %s at %s but does not answer; "
                                    "is it running and reachable from here?" % (endpoint, welcome["node"],
                                                                                self.endpoint))

    def _hint(self) -> str:
        return ("is `titan store` or `titan up` running at %s:%d? Set TITAN_HOST/TITAN_PORT (or pass "
                "TitanClient(host=..., port=...)) to point at it" % (self.host, self.port))
