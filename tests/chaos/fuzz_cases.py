# The fuzzer's cases: each is the frames of one message (after the routing envelope), made from a seed and
# a case index alone, so any case can be made again. Kinds: random frames, schema messages with fields of
# the wrong type, huge declared counts and lengths, oversized frames and bodies, too many frames, unknown
# message types and protocol versions. Bodies of known messages are made from the schema (schema.py).
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence

from fuzz_msgpack import Ext, Header, Pairs, Raw, RawStr, pack
from titan_sdk.protocol import (INT64_MAX, INT64_MIN, MAX_ARRIVING_FRAMES, MAX_BODY_BYTES, MAX_FRAMES, MAX_KEY_BYTES, MAX_VALUE_BYTES,
                                MESSAGES, SIGNATURE, STRUCTS, MsgType)
from titan_sdk.transport import MAX_ZMQ_FRAME

RANDOM_FRAMES = "random frames"
WRONG_TYPES = "wrong types"
HUGE_COUNTS = "huge counts"
OVERSIZED = "oversized"
TOO_MANY_FRAMES = "too many frames"
UNKNOWN_TYPE_VERSION = "unknown type or version"
WEIGHTS = {RANDOM_FRAMES: 25, WRONG_TYPES: 35, HUGE_COUNTS: 15, UNKNOWN_TYPE_VERSION: 15, TOO_MANY_FRAMES: 8,
           OVERSIZED: 2}
GIANT_SHARE = 0.05  # of the oversized cases, those of several MiB (the others are limits of keys and values)


@dataclass
class Case:
    """One message to send. `bare`: without the empty delimiter frame a DEALER client sends first.
    `silent`: a frame over ZMQ_MAXMSGSIZE, or a message over MAX_ARRIVING_FRAMES frames, which makes the node
    drop the connection without a reply.
    `expect`: a node-level error code the codec cannot predict (TOO_LARGE for a long store key)."""

    index: int
    kind: str
    frames: List[bytes]
    note: str = ""
    bare: bool = False
    silent: bool = False
    expect: str = ""
    sent_bytes: int = field(init=False, default=0)

    def __post_init__(self):
        self.sent_bytes = sum(len(f) for f in self.frames)

    def describe(self) -> str:
        shown = [f[:24].hex() + ("..(%d bytes)" % len(f) if len(f) > 24 else "") for f in self.frames[:6]]
        more = " +%d frames" % (len(self.frames) - 6) if len(self.frames) > 6 else ""
        return "case %d (%s%s%s): [%s]%s" % (self.index, self.kind, ", " + self.note if self.note else "",
                                            ", no delimiter" if self.bare else "", " ".join(shown), more)


# ---- values from the schema ----------------------------------------------------------------------------

_TEXT = ["", "a", "job-1", "w1", "GENERAL", "é", "中文", "\U0001f600", "x" * 40, "../etc", "a b", "DAG-x"]
_WRONG = [7, -1, 2 ** 40, 1.5, True, False, "str", b"bin", [], [1, "a"], {}, {"k": 1}, RawStr(b"\xff\xfe"),
          RawStr(b"\xed\xa0\x80"), RawStr(b"\xc0\xaf"), 2 ** 63, 2 ** 64 - 1, Ext(1, b"x"), None]


def valid(rng: random.Random, type_: str, depth: int = 0) -> Any:
    """A random value of schema type `type_` (a scalar, list<T> or a struct name)."""
    if type_ in STRUCTS:
        return {f.name: valid(rng, f.type, depth + 1) for f in STRUCTS[type_] if not f.optional or rng.random() < 0.3}
    if type_.startswith("list<"):
        return [valid(rng, type_[5:-1], depth + 1) for _ in range(rng.randint(0, 3 if depth < 2 else 0))]
    if type_ == "str":
        return rng.choice(_TEXT)
    if type_ == "bin":
        return rng.randbytes(rng.randint(0, 16))
    if type_ == "value":
        return rng.choice(_TEXT) if rng.random() < 0.5 else rng.randbytes(rng.randint(0, 16))
    if type_ == "int":
        return rng.choice([0, 1, -1, 5, 1000, INT64_MAX, INT64_MIN, rng.randint(INT64_MIN, INT64_MAX)])
    if type_ == "bool":
        return rng.random() < 0.5
    if type_ == "map":
        return rng.choice([{}, {"k": "v"}, {"a": [1, 2]}])
    raise AssertionError("schema type %r" % type_)


def _same_kind(v: Any, type_: str) -> bool:
    """Roughly whether `v` is of `type_` (the codec decides exactly; this only avoids useless mutations)."""
    if type_ in STRUCTS or type_ == "map":
        return isinstance(v, dict)
    if type_.startswith("list<"):
        return isinstance(v, list)
    return {"str": isinstance(v, str), "bin": isinstance(v, bytes) and not isinstance(v, RawStr),
            "value": isinstance(v, (str, bytes)) and not isinstance(v, RawStr),
            "int": type(v) is int and INT64_MIN <= v <= INT64_MAX, "bool": isinstance(v, bool)}[type_]


def wrong(rng: random.Random, type_: str) -> Any:
    """A value that is not a valid `type_`: another type, a str that is not UTF-8, an int past int64, or
    for containers a valid shape holding one bad element or field."""
    if type_ in STRUCTS and rng.random() < 0.4:
        inner = valid(rng, type_)
        f = rng.choice(STRUCTS[type_])
        inner[f.name] = wrong(rng, f.type)
        return inner
    if type_.startswith("list<") and rng.random() < 0.4:
        return [valid(rng, type_[5:-1]), wrong(rng, type_[5:-1])]
    return rng.choice([v for v in _WRONG if not _same_kind(v, type_)])


def body_of(rng: random.Random, msg_type: int, rid: bool = True) -> Dict[str, Any]:
    """A valid body of `msg_type` (every required field, some optional ones), with a random rid."""
    specs = MESSAGES.get(MsgType(msg_type), ()) if msg_type in MsgType._value2member_map_ else ()
    body = {f.name: valid(rng, f.type) for f in specs if not f.optional or rng.random() < 0.4}
    if rid:
        body["rid"] = rng.randint(INT64_MIN, INT64_MAX)
    return body


def message(msg_type: int, body: Any, blobs: Sequence[bytes] = ()) -> List[bytes]:
    return [SIGNATURE, bytes([msg_type]), pack(body)] + list(blobs)


# ---- the kinds of case ---------------------------------------------------------------------------------


def random_frames(rng: random.Random, serves: Sequence[int]) -> Dict[str, Any]:
    n = rng.choice([0, 1, 2, 3, 3, 3, 4, 5, rng.randint(6, 20)])
    frames = [rng.randbytes(rng.choice([0, 1, 2, 6, 8, 32, rng.randint(0, 512)])) for _ in range(n)]
    if n >= 1 and rng.random() < 0.5:
        frames[0] = SIGNATURE
    if n >= 2 and rng.random() < 0.5:
        frames[1] = bytes([rng.choice(serves)])
    if n >= 3 and rng.random() < 0.3:
        frames[2] = bytes([0x80 | rng.randint(0, 15)]) + frames[2]  # looks like a map, then garbage
    return {"frames": frames, "bare": n > 0 and rng.random() < 0.2}


def wrong_types(rng: random.Random, serves: Sequence[int]) -> Dict[str, Any]:
    msg_type = rng.choice(serves)
    body = body_of(rng, msg_type)
    specs = list(MESSAGES[MsgType(msg_type)])
    broken = rng.sample(specs, min(len(specs), rng.choice([1, 1, 1, 2, 3]))) if specs else []
    for f in broken:
        body[f.name] = wrong(rng, f.type)
    if not broken or rng.random() < 0.2:
        body["rid"] = rng.choice([v for v in _WRONG if not _same_kind(v, "int")])
    note = "broken: " + ", ".join([f.name for f in broken] or ["rid"])
    extra = rng.random()
    if extra < 0.1:
        body[rng.choice(["zz", "unknown"])] = rng.choice(_WRONG)  # unknown keys are ignored, whatever they hold
    elif extra < 0.15:
        body = Pairs(list(body.items()) + [(next(iter(body), "rid"), 1)])  # a key twice
        note += ", a key twice"
    elif extra < 0.2:
        body = Pairs(list(body.items()) + [(rng.choice([1, b"k", None]), 1)])  # a key that is not a str
        note += ", a key that is not a str"
    return {"frames": message(msg_type, body), "note": "%s %s" % (MsgType(msg_type).name, note)}


HUGE = [2 ** 32 - 1, 2 ** 31, 2 ** 24, 1_000_000, 200_001, 65_536]


def huge_counts(rng: random.Random, serves: Sequence[int]) -> Dict[str, Any]:
    msg_type = rng.choice(serves)
    body = body_of(rng, msg_type)
    variant = rng.choice(["root", "field", "unknown field", "deep", "many entries"])
    header = Header(rng.choice(["array", "map", "str", "bin"]), rng.choice(HUGE), rng.randbytes(rng.randint(0, 8)))
    if variant == "root":
        return {"frames": [SIGNATURE, bytes([msg_type]), pack(header)], "note": "body " + repr(header)}
    if variant in ("field", "unknown field"):
        specs = MESSAGES[MsgType(msg_type)]
        name = rng.choice(specs).name if specs and variant == "field" else "zz"
        body[name] = header
        return {"frames": message(msg_type, body), "note": "%s %s = %r" % (MsgType(msg_type).name, name, header)}
    if variant == "deep":
        depth = rng.choice([29, 30, 31, 32, 33, 64, 1000])
        # Written as bytes: levels of a one-entry array (91) or map {"d": ...} (81 a1 64) around an empty array.
        body["zz"] = Raw(b"".join(rng.choice([b"\x91", b"\x81\xa1d"]) for _ in range(depth - 1)) + b"\x90")
        return {"frames": message(msg_type, body), "note": "%s with a value %d levels deep" % (
            MsgType(msg_type).name, depth + 1)}
    n = 200_001 if rng.random() < 0.9 else rng.choice([200_000, 199_999])  # the valid ones are slow to check
    body["zz"] = Raw(b"\xdd" + n.to_bytes(4, "big") + b"\xc0" * n)  # an array of n nils
    return {"frames": message(msg_type, body), "note": "%s with an array of %d entries" % (MsgType(msg_type).name, n)}


def oversized(rng: random.Random, serves: Sequence[int], store: bool) -> Dict[str, Any]:
    msg_type = rng.choice(serves)
    if store and rng.random() > GIANT_SHARE:
        over = rng.choice([0, 1, 1, 100])
        which = rng.choice(["key", "value"])
        limit = MAX_KEY_BYTES if which == "key" else MAX_VALUE_BYTES
        body = {"key": "k" * (limit + over if which == "key" else 8),
                "value": rng.choice([b"v", "v"]) * (limit + over if which == "value" else 1),
                "rid": rng.randint(0, INT64_MAX)}
        return {"frames": message(MsgType.STORE_PUT, body), "expect": "TOO_LARGE" if over else "",
                "note": "STORE_PUT %s of %d bytes (limit %d)" % (which, limit + over, limit)}
    variant = rng.choice(["body over the limit", "body at the limit", "message over 8 MiB", "frame over 8 MiB"])
    if variant == "body over the limit":
        frames = [SIGNATURE, bytes([msg_type]), rng.randbytes(16) + bytes(MAX_BODY_BYTES - 15 + rng.randint(0, 64))]
    elif variant == "body at the limit":
        body = body_of(rng, msg_type)
        size = len(pack(body)) + 1 + 2 + 5  # the new key and the bin32 header
        body["zz"] = bytes(MAX_BODY_BYTES - size)
        frames = message(msg_type, body)
        assert len(frames[2]) == MAX_BODY_BYTES, len(frames[2])
    elif variant == "message over 8 MiB":
        frames = message(msg_type, body_of(rng, msg_type), [bytes(3 << 20)] * 3)
    else:
        frames = message(msg_type, body_of(rng, msg_type), [bytes(MAX_ZMQ_FRAME + 1)])
    return {"frames": frames, "note": variant, "silent": variant == "frame over 8 MiB"}


def too_many_frames(rng: random.Random, serves: Sequence[int]) -> Dict[str, Any]:
    msg_type = rng.choice(serves)
    total = rng.choice([MAX_FRAMES, MAX_FRAMES + 1, rng.randint(MAX_FRAMES + 2, 64), 1000])
    blobs = [rng.randbytes(rng.randint(0, 32)) for _ in range(total - 3)]
    # Past MAX_ARRIVING_FRAMES (the delimiter counts) the node drops the connection as the frames arrive.
    return {"frames": message(msg_type, body_of(rng, msg_type), blobs), "note": "%d frames" % total,
            "silent": total + 1 > MAX_ARRIVING_FRAMES}


def unknown_type_version(rng: random.Random, serves: Sequence[int]) -> Dict[str, Any]:
    variant = rng.choice(["version", "signature", "type frame", "unknown code", "not served here"])
    msg_type = rng.choice(serves)
    frames = message(msg_type, body_of(rng, msg_type))
    if variant == "version":
        frames[0] = SIGNATURE[:5] + bytes([rng.choice([0, 2, 3, 0x7f, 0xff])])
    elif variant == "signature":
        frames[0] = rng.choice([b"TITAN", b"TITAN\x01\x01", b"titan\x01", b"TITAM\x01", b"", b"\x01TITAN"])
    elif variant == "type frame":
        frames[1] = rng.choice([b"", bytes([msg_type, 0]), b"\x00\x00\x00"])
    elif variant == "unknown code":
        code = rng.choice([c for c in range(256) if c not in MsgType._value2member_map_])
        frames = message(code, body_of(rng, code))
    else:
        other = rng.choice([t for t in MsgType if t not in serves])
        frames = message(other, body_of(rng, other))
        variant += ": " + other.name
    return {"frames": frames, "note": variant}


def make_case(seed: int, index: int, serves: Sequence[int], store: bool, oversized_weight: float) -> Case:
    """Case `index` of the run with `seed` for a node that answers `serves`; the same arguments give the same case."""
    rng = random.Random("%d:%d" % (seed, index))
    weights = dict(WEIGHTS, **{OVERSIZED: oversized_weight})
    kind = rng.choices(list(weights), list(weights.values()))[0]
    made = {RANDOM_FRAMES: random_frames, WRONG_TYPES: wrong_types, HUGE_COUNTS: huge_counts,
            TOO_MANY_FRAMES: too_many_frames, UNKNOWN_TYPE_VERSION: unknown_type_version}.get(kind)
    fields = made(rng, serves) if made else oversized(rng, serves, store)
    return Case(index, kind, **fields)
