# The TitanClient calls for TitanStore (values, sets, atomic counters, compare-and-set), kept apart from
# client.py. A mixin: TitanClient provides _store_call (discovery of the store through the broker's
# WELCOME, one lock per client), and every method here is as thread-safe as that.
from typing import Any, List, Optional, Union

from .protocol import MsgType

StoreData = Union[str, bytes]


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


class StoreCalls:
    """TitanStore calls of TitanClient. Keys, values and members are str or bytes (int and float are
    converted with str()); a value comes back as the type it was stored as."""

    def store_put(self, key: Any, value: Any) -> str:
        """Saves `value` under `key` (durably, before this returns). Returns "OK", as the original Titan did
        (scripts test `if response == "OK"`; it is truthy too). A str comes back as str, bytes as bytes."""
        self._store_call(MsgType.STORE_PUT, key=_data("key", key), value=_data("value", value))
        return "OK"

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
