# A msgpack writer for the fuzzer that can write what msgpack.packb never would: str whose bytes are not
# UTF-8, headers that declare more entries or bytes than follow, integers past int64, extension types and
# bytes spliced in verbatim. Plain values are written in their smallest form.
import struct
from typing import Any


class RawStr(bytes):
    """A msgpack str holding these bytes as they are (valid UTF-8 or not)."""


class Raw(bytes):
    """Bytes written verbatim where a value belongs."""


class Header:
    """A container or str/bin header declaring `count` entries (bytes for str/bin) in its 32-bit form,
    followed only by `tail`: a declared size the message does not have."""

    def __init__(self, kind: str, count: int, tail: bytes = b""):
        assert kind in ("array", "map", "str", "bin")
        self.kind, self.count, self.tail = kind, count, tail

    def __repr__(self) -> str:
        return "Header(%s, %d, %d bytes)" % (self.kind, self.count, len(self.tail))


class Pairs(list):
    """A map written from (key, value) pairs, in order: the same key may come twice."""


class Ext:
    """An extension type (Titan accepts none)."""

    def __init__(self, code: int, data: bytes):
        self.code, self.data = code, data


_HEADER32 = {"array": 0xdd, "map": 0xdf, "str": 0xdb, "bin": 0xc6}


def _int(v: int) -> bytes:
    if 0 <= v <= 0x7f:
        return bytes([v])
    if -32 <= v < 0:
        return struct.pack("b", v)
    if v >= 0:
        for code, fmt, top in ((0xcc, "B", 0xff), (0xcd, ">H", 0xffff), (0xce, ">I", 0xffffffff)):
            if v <= top:
                return bytes([code]) + struct.pack(fmt, v)
        return b"\xcf" + struct.pack(">Q", v)  # up to 2**64 - 1: past int64 on purpose
    for code, fmt, low in ((0xd0, "b", -0x80), (0xd1, ">h", -0x8000), (0xd2, ">i", -0x80000000)):
        if v >= low:
            return bytes([code]) + struct.pack(fmt, v)
    return b"\xd3" + struct.pack(">q", v)


def _sized(n: int, fix: int, fix_max: int, codes) -> bytes:
    """The header of a str/bin/array/map of n entries: fix form (fix | n) when fix_max allows, else 8/16/32-bit."""
    if fix is not None and n <= fix_max:
        return bytes([fix | n])
    for code, fmt, top in codes:
        if code is not None and n <= top:
            return bytes([code]) + struct.pack(fmt, n)
    raise ValueError("%d entries do not fit msgpack" % n)


def _str_header(n: int) -> bytes:
    return _sized(n, 0xa0, 31, ((0xd9, "B", 0xff), (0xda, ">H", 0xffff), (0xdb, ">I", 0xffffffff)))


def pack(v: Any) -> bytes:
    """msgpack bytes of `v` (dict, list, str, bytes, int, float, bool, None, or the classes above)."""
    if isinstance(v, Raw):
        return bytes(v)
    if isinstance(v, RawStr):
        return _str_header(len(v)) + bytes(v)
    if isinstance(v, Header):
        return bytes([_HEADER32[v.kind]]) + struct.pack(">I", v.count) + v.tail
    if isinstance(v, Ext):
        return b"\xc7" + struct.pack("B", len(v.data)) + struct.pack("b", v.code) + v.data
    if v is None:
        return b"\xc0"
    if v is True or v is False:
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        return _int(v)
    if isinstance(v, float):
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        data = v.encode("utf-8")
        return _str_header(len(data)) + data
    if isinstance(v, bytes):
        return _sized(len(v), None, 0, ((0xc4, "B", 0xff), (0xc5, ">H", 0xffff), (0xc6, ">I", 0xffffffff))) + v
    if isinstance(v, (dict, Pairs)):
        items = list(v) if isinstance(v, Pairs) else list(v.items())
        head = _sized(len(v), 0x80, 15, ((None, "", 0), (0xde, ">H", 0xffff), (0xdf, ">I", 0xffffffff)))
        return head + b"".join(pack(k) + pack(e) for k, e in items)
    if isinstance(v, list):
        head = _sized(len(v), 0x90, 15, ((None, "", 0), (0xdc, ">H", 0xffff), (0xdd, ">I", 0xffffffff)))
        return head + b"".join(pack(e) for e in v)
    raise TypeError("cannot pack %s" % type(v).__name__)
