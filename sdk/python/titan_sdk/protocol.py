# The Titan wire codec: encode() builds canonical frames, decode() never raises on peer input and follows
# the rules of the C++ Decode in schemas/cpp/codec.cc. The message table itself is schema.py, generated
# from schemas/protocol.yaml, and is re-exported here, so `protocol.MsgType.STORE_PUT`,
# `protocol.MESSAGES` etc. work; messages.py has a dataclass per struct and message.
import dataclasses
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

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


def _shape(specs: Sequence[FieldSpec], m: Dict[str, Any], strict: bool) -> Dict[str, Any]:
    """`m` with the fields of `specs` in schema order, nil left out, nested structs shaped too.
    Unknown names raise ValueError when `strict` (our own message), else are dropped (a peer's)."""
    if strict:
        unknown = set(m) - {f.name for f in specs}
        if unknown:
            raise ValueError("no field(s) %s here; the schema has %s"
                             % (", ".join(sorted(unknown)), ", ".join(f.name for f in specs)))
    return {f.name: _shape_value(m[f.name], f.type, strict) for f in specs if m.get(f.name) is not None}


def _shape_value(v: Any, type_: str, strict: bool) -> Any:
    if isinstance(v, (bytearray, memoryview)):
        return bytes(v)
    if type_ in STRUCTS and isinstance(v, dict):
        return _shape(STRUCTS[type_], v, strict)
    if type_.startswith("list<") and isinstance(v, list):
        return [_shape_value(e, type_[5:-1], strict) for e in v]
    return v


# ---- encode --------------------------------------------------------------------------------------


def encode(msg_type: MsgType, fields: Dict[str, Any], blobs: Iterable[bytes] = ()) -> List[bytes]:
    """Frames [signature][type][body][blob]*: fields in schema order, then envelope fields (canonical).

    Raises ValueError/TypeError for our own mistakes (unknown or missing field, wrong Python type):
    a message this side builds must follow the schema.
    """
    msg_type = MsgType(msg_type)
    specs = MESSAGES[msg_type] + ENVELOPE_FIELDS
    try:
        body = _shape(specs, fields, strict=True)
    except ValueError as e:
        raise ValueError("%s: %s" % (msg_type.name, e)) from None
    why = _validate_map(specs, body, msg_type.name)
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
    specs = MESSAGES[msg_type] + ENVELOPE_FIELDS
    why = _validate_map(specs, root, msg_type.name)
    if why is not None:
        return Decoded("MALFORMED", why, msg_type, rid=rid)
    return Decoded("ok", "", msg_type, _shape(specs, root, strict=False), frames[3:], rid)
