# Base classes of the generated dataclasses in messages.py: conversion between a dataclass and the dict
# that protocol.decode() gives and protocol.encode() takes, nested structs included.
from typing import Any, ClassVar, Dict, Iterable, List, Mapping, Tuple

from . import protocol
from .schema import ENVELOPE_FIELDS, FieldSpec, MsgType

STRUCT_CLASSES: Dict[str, type] = {}  # schema struct name -> dataclass; filled by messages.py
_ENVELOPE = frozenset(f.name for f in ENVELOPE_FIELDS)


def _element(type_: str) -> Tuple[str, bool]:
    return (type_[5:-1], True) if type_.startswith("list<") else (type_, False)


def _from_wire(value: Any, type_: str) -> Any:
    base, is_list = _element(type_)
    cls = STRUCT_CLASSES.get(base)
    if cls is None:
        return list(value) if is_list else value
    return [cls.from_wire(e) for e in value] if is_list else cls.from_wire(value)


def _to_wire(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_wire()
    if isinstance(value, list):
        return [_to_wire(e) for e in value]
    return value


class Record:
    """A schema struct as a dataclass: every field of the schema is an attribute (absent optional ones
    are None)."""

    _SPEC: ClassVar[Tuple[FieldSpec, ...]] = ()

    @classmethod
    def from_wire(cls, fields: Mapping[str, Any]) -> Any:
        """From a decoded dict. A name the schema lacks raises ValueError (decode() never gives one, so it
        is a caller's mistake, not something to drop silently); nested structs become dataclasses."""
        cls._check_names(fields, frozenset())
        return cls(**{f.name: _from_wire(fields[f.name], f.type) for f in cls._SPEC
                      if fields.get(f.name) is not None})

    def to_wire(self) -> Dict[str, Any]:
        """The dict encode() takes: set fields in schema order, None left out, nested structs as dicts."""
        return {f.name: _to_wire(getattr(self, f.name)) for f in self._SPEC if getattr(self, f.name) is not None}

    @classmethod
    def _check_names(cls, fields: Mapping[str, Any], also_allowed: frozenset) -> None:
        unknown = set(fields) - {f.name for f in cls._SPEC} - also_allowed
        if unknown:
            raise ValueError("%s has no field(s) %s; the schema has %s" % (
                cls.__name__, ", ".join(sorted(unknown)), ", ".join(f.name for f in cls._SPEC)))


class MessageRecord(Record):
    """A message as a dataclass; `TYPE` is its MsgType. Envelope fields (rid) are not part of it."""

    TYPE: ClassVar[MsgType]

    @classmethod
    def from_wire(cls, fields: Mapping[str, Any], blobs: Iterable[bytes] = ()) -> Any:
        cls._check_names(fields, _ENVELOPE)
        kwargs = {f.name: _from_wire(fields[f.name], f.type) for f in cls._SPEC if fields.get(f.name) is not None}
        if protocol.MESSAGE_SPECS[cls.TYPE].blobs:
            kwargs["blobs"] = list(blobs)
        return cls(**kwargs)

    @classmethod
    def from_decoded(cls, decoded: "protocol.Decoded") -> Any:
        """From a decoded message of this type (ValueError for another type or a failed decode)."""
        if not decoded.ok or decoded.type != cls.TYPE:
            raise ValueError("expected %s, got %s" % (cls.TYPE.name, decoded.type.name if decoded.type else
                                                      "%s (%s)" % (decoded.status, decoded.reason)))
        return cls.from_wire({k: v for k, v in decoded.fields.items() if k not in _ENVELOPE}, decoded.blobs)

    def encode(self, rid: Any = None) -> List[bytes]:
        fields = self.to_wire()
        if rid is not None:
            fields["rid"] = rid
        return protocol.encode(self.TYPE, fields, getattr(self, "blobs", ()))
