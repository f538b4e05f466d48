# The Titan wire codec: encode() builds canonical frames, decode() never raises on peer input and follows
# the rules of the C++ Decode in schemas/cpp/codec.cc. The message table itself is schema.py, generated
# from schemas/protocol.yaml, and is re-exported here, so `protocol.MsgType.STORE_PUT`,
# `protocol.MESSAGES` etc. work; messages.py has a dataclass per struct and message.
import dataclasses
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import msgpack

from .schema import (ENVELOPE_FIELDS, FIELD_TYPES, INT64_MAX, INT64_MIN, MAX_ARRIVING_BYTES,  # noqa: F401
                     MAX_ARRIVING_FRAMES, MAX_BODY_BYTES, MAX_CHUNK_BYTES, MAX_FRAMES, MAX_KEY_BYTES, MAX_MEMBERS_REPLY, MAX_VALUE_BYTES, MESSAGE_SPECS, MESSAGES,
                     PERMISSIONS, PROTOCOL_NAME, PROTOCOL_VERSION, REPLIES, SIGNATURE, STRUCTS, ErrorCode,
                     FieldSpec, MessageSpec, MsgType)

_MAX_DEPTH = 32  # containers may nest at depths 0..31 (msgpack-c's limit in the C++ codec)
_MAX_ITEMS = MAX_MEMBERS_REPLY * 2


@dataclasses.dataclass
class Decoded:
    """What decode() made of some frames. `status` is "ok" or an ErrorCode name; `reason` says why."""

    status: str
    reason: str = ""
    type: Optional[MsgType] = None
    fields: Dict[str, Any] = dataclasses.field(default_factory=dict)  # schema + envelope fields, nil left out
    blobs: List[bytes] = dataclasses.field(default_factory=list)
    rid: Optional[int] = None  # set whenever the body could be read far enough

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# ---- validation (the C++ ValidateMap / TypeMatches, with the same reasons) ----------------------------


def _is_valid_text(s: str) -> bool:
    """A str decoded with surrogateescape holds lone surrogates exactly where the UTF-8 was invalid."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _type_matches(v: Any, type_: str, where: str) -> Tuple[bool, str]:
    """(True, "") when `v` is a valid `type_`; else (False, why), where why may be empty or a full reason."""
    if type_ in STRUCTS:
        if not isinstance(v, dict):
            return False, ""
        why = _validate_map(STRUCTS[type_], v, where)
        return why is None, why or ""
    if type_.startswith("list<"):
        if not isinstance(v, list):
            return False, ""
        elem = type_[5:-1]
        for i, e in enumerate(v):
            ok, why = _type_matches(e, elem, "%s[%d]" % (where, i))
            if not ok:
                return False, why or "item %d must be %s" % (i, elem)
        return True, ""
    if type_ == "str":
        if not isinstance(v, str):
            return False, ""
        return (True, "") if _is_valid_text(v) else (False, "is a str that is not valid UTF-8")
    if type_ == "value":
        if isinstance(v, str) and not _is_valid_text(v):
            return False, "is a str that is not valid UTF-8 (send binary data as bin)"
        return isinstance(v, (str, bytes)), ""
    if type_ == "bin":
        return isinstance(v, bytes), ""
    if type_ == "int":
        return type(v) is int and INT64_MIN <= v <= INT64_MAX, ""
    if type_ == "bool":
        return type(v) is bool, ""
    if type_ == "map":
        return isinstance(v, dict), ""
    raise AssertionError("field type %r is not in the schema" % type_)


def _validate_map(specs: Sequence[FieldSpec], m: Dict[str, Any], where: str) -> Optional[str]:
    """None when `m` has every required field of `specs` with its type; else the reason."""
    for f in specs:
        v = m.get(f.name)
        if v is None:
            if f.optional:
                continue
            return "%s needs field '%s' (%s)" % (where, f.name, f.type)
        ok, why = _type_matches(v, f.type, where + "." + f.name)
        if not ok:
            why = why or "must be " + f.type
            if " needs field " in why or why.startswith(where):
                return why  # a nested failure already names its full path
            return "%s field '%s' %s" % (where, f.name, why)
    return None


# ---- field lists compiled once: the verdicts of _validate_map without its reasons, and the shaping ----------
#
# Checking and shaping every message by walking the schema's type strings cost the SDK most of its own CPU per
# request. Each field list (a message's, a struct's) is compiled on first use into, per field, a verdict
# function (True exactly when _type_matches would be) and a shaper. A message the verdicts refuse is checked
# again by _validate_map, which builds the reason, so refusals read as before.


class _Compiled:
    """A field list with each field's (name, optional, verdict, shaper), in schema order."""

    __slots__ = ("specs", "names", "fields")

    def __init__(self, specs: Sequence[FieldSpec]):
        self.specs = tuple(specs)
        self.names = frozenset(f.name for f in self.specs)
        self.fields = tuple((f.name, f.optional, _verdict(f.type), _shaper(f.type)) for f in self.specs)


_STRUCTS_COMPILED: Dict[str, _Compiled] = {}
_MESSAGES_COMPILED: Dict[MsgType, _Compiled] = {}
_VERDICTS: Dict[str, Callable[[Any], bool]] = {}
_SHAPERS: Dict[str, Callable[[Any, bool], Any]] = {}


def _struct(name: str) -> _Compiled:
    c = _STRUCTS_COMPILED.get(name)
    if c is None:
        c = _STRUCTS_COMPILED[name] = _Compiled(STRUCTS[name])
    return c


def _message(msg_type: MsgType) -> _Compiled:
    """A message's fields, then the envelope's."""
    c = _MESSAGES_COMPILED.get(msg_type)
    if c is None:
        c = _MESSAGES_COMPILED[msg_type] = _Compiled(MESSAGES[msg_type] + ENVELOPE_FIELDS)
    return c


def _verdict(type_: str) -> Callable[[Any], bool]:
    v = _VERDICTS.get(type_)
    if v is None:
        v = _VERDICTS[type_] = _make_verdict(type_)
    return v


def _make_verdict(type_: str) -> Callable[[Any], bool]:
    """True exactly when _type_matches(v, type_) is. A struct's fields are compiled at its first check."""
    if type_ in STRUCTS:
        return lambda v: isinstance(v, dict) and _valid(_struct(type_), v)
    if type_.startswith("list<"):
        elem = _verdict(type_[5:-1])
        return lambda v: isinstance(v, list) and all(map(elem, v))
    if type_ == "str":
        return lambda v: isinstance(v, str) and _is_valid_text(v)
    if type_ == "value":
        return lambda v: isinstance(v, bytes) or (isinstance(v, str) and _is_valid_text(v))
    if type_ == "bin":
        return lambda v: isinstance(v, bytes)
    if type_ == "int":
        return lambda v: type(v) is int and INT64_MIN <= v <= INT64_MAX
    if type_ == "bool":
        return lambda v: type(v) is bool
    if type_ == "map":
        return lambda v: isinstance(v, dict)
    raise AssertionError("field type %r is not in the schema" % type_)


def _valid(c: _Compiled, m: Dict[str, Any]) -> bool:
    """Whether _validate_map(c.specs, m, ...) finds nothing wrong."""
    get = m.get
    for name, optional, verdict, _ in c.fields:
        v = get(name)
        if v is None:
            if optional:
                continue
            return False
        if not verdict(v):
            return False
    return True


def _shaper(type_: str) -> Callable[[Any, bool], Any]:
    s = _SHAPERS.get(type_)
    if s is None:
        s = _SHAPERS[type_] = _make_shaper(type_)
    return s


def _shape_scalar(v: Any, strict: bool) -> Any:
    return bytes(v) if isinstance(v, (bytearray, memoryview)) else v


def _make_shaper(type_: str) -> Callable[[Any, bool], Any]:
    """A value of `type_` shaped: bytes for a bytearray or memoryview, a struct's map in schema order, a list's
    items shaped; anything else as it is (the verdicts judge it)."""
    if type_ in STRUCTS:
        def shape_struct(v: Any, strict: bool) -> Any:
            if isinstance(v, dict):
                return _shape(_struct(type_), v, strict)
            return _shape_scalar(v, strict)
        return shape_struct
    if type_.startswith("list<"):
        elem = _shaper(type_[5:-1])

        def shape_list(v: Any, strict: bool) -> Any:
            if isinstance(v, list):
                return [elem(e, strict) for e in v]
            return _shape_scalar(v, strict)
        return shape_list
    return _shape_scalar


def _shape(c: _Compiled, m: Dict[str, Any], strict: bool) -> Dict[str, Any]:
    """`m` with the fields of `c` in schema order, nil left out, nested structs shaped too.
    Unknown names raise ValueError when `strict` (our own message), else are dropped (a peer's)."""
    if strict:
        unknown = m.keys() - c.names
        if unknown:
            raise ValueError("no field(s) %s here; the schema has %s"
                             % (", ".join(sorted(unknown)), ", ".join(f.name for f in c.specs)))
    out = {}
    for name, _, _, shaper in c.fields:
        v = m.get(name)
        if v is not None:
            out[name] = shaper(v, strict)
    return out


# ---- encode --------------------------------------------------------------------------------------


def encode(msg_type: MsgType, fields: Dict[str, Any], blobs: Iterable[bytes] = ()) -> List[bytes]:
    """Frames [signature][type][body][blob]*: fields in schema order, then envelope fields (canonical).

    Raises ValueError/TypeError for our own mistakes (unknown or missing field, wrong Python type):
    a message this side builds must follow the schema.
    """
    msg_type = MsgType(msg_type)
    c = _message(msg_type)
    try:
        body = _shape(c, fields, strict=True)
    except ValueError as e:
        raise ValueError("%s: %s" % (msg_type.name, e)) from None
    if not _valid(c, body):
        why = _validate_map(c.specs, body, msg_type.name)
        if why is not None:
            raise TypeError(why)
    frames = [SIGNATURE, bytes([msg_type]), msgpack.packb(body, use_bin_type=True)]
    frames.extend(bytes(b) for b in blobs)
    if len(frames) > MAX_FRAMES:
        raise ValueError("%d frames; the limit is %d" % (len(frames), MAX_FRAMES))
    return frames


# ---- decode --------------------------------------------------------------------------------------


class _BodyError(Exception):
    pass


def _pairs(pairs):
    out = {}
    for k, v in pairs:
        if not isinstance(k, str):
            raise _BodyError("map key is not a string")
        if k in out:
            raise _BodyError("map key '%s' appears twice" % k)
        out[k] = v
    return out


def _check_tree(v: Any, depth: int) -> None:
    """Rejects what the C++ Datum cannot hold: deep nesting, ints past int64, extension types."""
    if isinstance(v, (list, dict)):
        if depth >= _MAX_DEPTH:
            raise _BodyError("msgpack nesting deeper than %d levels" % _MAX_DEPTH)
        for e in v.values() if isinstance(v, dict) else v:
            t = type(e)  # the common scalars here, without a call; anything else as below
            if t is str or t is bytes or e is None or t is bool or t is float:
                continue
            if t is int and e <= INT64_MAX:
                continue
            _check_tree(e, depth + 1)
    elif type(v) is int:
        if v > INT64_MAX:
            raise _BodyError("integer above the signed 64-bit range")
    elif not (v is None or isinstance(v, (bool, float, str, bytes))):
        raise _BodyError("msgpack extension types are not used by Titan")


def _unpack_body(body: bytes) -> Any:
    try:
        root = msgpack.unpackb(body, raw=False, unicode_errors="surrogateescape", strict_map_key=False,
                               object_pairs_hook=_pairs, use_list=True, max_array_len=_MAX_ITEMS,
                               max_map_len=_MAX_ITEMS)
    except _BodyError:
        raise
    except msgpack.ExtraData as e:
        raise _BodyError("%d trailing bytes after the msgpack body" % len(e.extra))
    except Exception as e:  # msgpack reports bad input with several exception types
        if "incomplete" in str(e):
            raise _BodyError("msgpack body is truncated")
        raise _BodyError("msgpack body is malformed: %s" % (e or type(e).__name__))
    _check_tree(root, 0)
    return root


def decode(frames: Sequence[Any]) -> Decoded:
    """Decodes [signature][type][body][blob]* (routing envelope already removed). Never raises."""
    try:
        return _decode(frames)
    except Exception as e:  # our own bug; still never let peer input raise
        return Decoded("MALFORMED", "cannot decode: %s: %s" % (type(e).__name__, e))


def _decode(frames: Sequence[Any]) -> Decoded:
    frames = [bytes(f) for f in frames]
    if len(frames) < 3:
        return Decoded("MALFORMED", "a message needs at least 3 frames (signature, type, body); got %d"
                       % len(frames))
    if len(frames) > MAX_FRAMES:
        return Decoded("TOO_LARGE", "%d frames; the limit is %d" % (len(frames), MAX_FRAMES))
    sig = frames[0]
    if len(sig) != len(SIGNATURE) or sig[:5] != PROTOCOL_NAME:
        return Decoded("MALFORMED", "the first frame is not the TITAN signature; is this a Titan node?")
    if sig != SIGNATURE:
        return Decoded("WRONG_VERSION", "protocol version %d is not spoken here; this client speaks TITAN "
                       "version %d" % (sig[5], PROTOCOL_VERSION))
    if len(frames[1]) != 1:
        return Decoded("MALFORMED", "the type frame must be exactly 1 byte")
    body = frames[2]
    if len(body) > MAX_BODY_BYTES:
        return Decoded("TOO_LARGE", "body of %d bytes; the limit is %d" % (len(body), MAX_BODY_BYTES))
    try:
        root = _unpack_body(body)
    except _BodyError as e:
        return Decoded("MALFORMED", str(e))
    if not isinstance(root, dict):
        return Decoded("MALFORMED", "the body must be a msgpack map")
    rid = root.get("rid")
    rid = rid if type(rid) is int else None
    code = frames[1][0]
    if code not in MsgType._value2member_map_:
        return Decoded("UNKNOWN_TYPE", "message type 0x%02x is unknown to this client" % code, rid=rid)
    msg_type = MsgType(code)
    c = _message(msg_type)
    if not _valid(c, root):
        why = _validate_map(c.specs, root, msg_type.name)
        if why is not None:
            return Decoded("MALFORMED", why, msg_type, rid=rid)
    return Decoded("ok", "", msg_type, _shape(c, root, strict=False), frames[3:], rid)
