"""schemas/protocol.yaml as checked Python objects, with the trailing comments PyYAML drops.

The schema's comments are part of its documentation: a field's trailing comment documents the field,
a `reply:` line's comment the reply, comment lines right above a struct the struct, and a
"# ---- name ----" line in `messages` starts a group of messages (comment lines after it describe the
group). load() fails with SchemaError on anything the generators could not express.
"""
import dataclasses
import keyword
import re
from typing import Dict, List, Optional, Tuple

import yaml

SCALARS = ("str", "bin", "value", "int", "bool", "map")
LIST_ELEMENTS = ("str", "value")  # list<T> of a scalar; any struct may be listed too
PERMISSIONS = ("none", "read", "submit", "operate", "admin", "worker")
CPP_KEYWORDS = frozenset("""alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t
char16_t char32_t class compl concept const consteval constexpr constinit const_cast continue co_await
co_return co_yield decltype default delete do double dynamic_cast else enum explicit export extern false
float for friend goto if inline int long mutable namespace new noexcept not not_eq nullptr operator or
or_eq private protected public register reinterpret_cast requires return short signed sizeof static
static_assert static_cast struct switch template this thread_local throw true try typedef typeid typename
union unsigned using virtual void volatile wchar_t while xor xor_eq blobs kType From ToDatum ToMessage
kSchemaName""".split())


class SchemaError(Exception):
    pass


@dataclasses.dataclass
class Field:
    name: str
    type: str  # as spelled in the schema: "str", "list<value>", "JobSpec", "list<JobSpec>"
    optional: bool
    doc: str = ""

    @property
    def is_list(self) -> bool:
        return self.type.startswith("list<")

    @property
    def base(self) -> str:
        """The element type of a list, else the type itself."""
        return self.type[5:-1] if self.is_list else self.type


@dataclasses.dataclass
class Struct:
    name: str
    fields: List[Field]
    doc: str = ""


@dataclasses.dataclass
class Message:
    name: str  # "STORE_PUT"
    code: int
    direction: str
    reply: Optional[str]
    reply_note: str
    permission: str
    writes: bool
    doc: str
    blobs: Optional[str]  # what the raw frames after the body hold, or None
    group: str
    fields: List[Field]

    @property
    def camel(self) -> str:
        return "".join(w.capitalize() for w in self.name.split("_"))


@dataclasses.dataclass
class Group:
    title: str
    note: str
    messages: List[Message]


@dataclasses.dataclass
class Schema:
    name: str
    version: int
    signature: bytes
    limits: List[Tuple[str, int, str]]  # name, value, comment
    errors: List[Tuple[str, str]]  # code, meaning
    envelope: List[Field]
    structs: List[Struct]  # in dependency order: a struct comes after the structs its fields use
    messages: List[Message]  # in schema order
    groups: List[Group]

    def struct(self, name: str) -> Optional[Struct]:
        return next((s for s in self.structs if s.name == name), None)


# ---- comments --------------------------------------------------------------------------------------

_KEY = re.compile(r"^(?P<indent> *)(?P<name>[A-Za-z_][\w]*):(?P<rest>.*)$")
_GROUP = re.compile(r"^  # ---- (?P<title>.*?) ----\s*$")


def _trailing_comment(rest: str) -> str:
    """The comment after a value: after the flow map's '}' when there is one, else after ' #'."""
    tail = rest[rest.rindex("}") + 1:] if "}" in rest else rest
    i = tail.find("#")
    return tail[i + 1:].strip() if i >= 0 else ""


def _note_item(out: Dict[tuple, str], section: str, name: str, rest: str, pending: List[str],
               group: str) -> None:
    """Records the comments of a top-level item (indent 2) `name` of `section`."""
    if section in ("limits", "envelope_fields"):
        out[("limit" if section == "limits" else "field", section, None, name)] = _trailing_comment(rest)
    if section == "structs" and pending:
        out[("struct", name)] = " ".join(pending)
    if section == "messages":
        out[("group", name)] = group
        if pending and ("group_note", group) not in out:
            out[("group_note", group)] = " ".join(pending)


def _note_member(out: Dict[tuple, str], section: str, item: str, indent: int, name: str, rest: str) -> None:
    """Records the trailing comment of a struct field, a message's reply or a message field."""
    if section == "structs" and indent == 4:
        out[("field", "structs", item, name)] = _trailing_comment(rest)
    elif section == "messages" and indent == 4 and name == "reply":
        out[("reply", item)] = _trailing_comment(rest)
    elif section == "messages" and indent == 6:
        out[("field", "messages", item, name)] = _trailing_comment(rest)


def _scan_comments(text: str) -> Dict[tuple, str]:
    """Comments by place: ("field", section, item, name), ("reply", msg), ("limit", name),
    ("struct", name), ("group", msg) -> the group title and ("group_note", title)."""
    out: Dict[tuple, str] = {}
    section = item = None
    pending: List[str] = []
    group = ""
    for line in text.split("\n"):
        stripped = line.strip()
        if not line.startswith(" ") and stripped and not stripped.startswith("#"):
            section, item, pending = line.split(":")[0], None, []
            continue
        g = _GROUP.match(line)
        if g and section == "messages":
            group, pending = g.group("title"), []
            continue
        if stripped.startswith("#"):
            if line.startswith("  #") and not line.startswith("   "):
                pending.append(stripped.lstrip("#").strip())
            continue
        m = _KEY.match(line) if stripped else None
        if not m:
            continue
        indent, name, rest = len(m.group("indent")), m.group("name"), m.group("rest")
        if indent == 2:
            item = name
            _note_item(out, section, name, rest, pending, group)
            pending = []
        else:
            _note_member(out, section, item, indent, name, rest)
    return out


# ---- loading and checking ---------------------------------------------------------------------------


def _check_name(name: str, where: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or keyword.iskeyword(name) or name in CPP_KEYWORDS:
        raise SchemaError("%s: field name %r must be snake_case and not a C++ or Python keyword" % (where, name))


def _fields(raw, where: str, comments: Dict[tuple, str], key: tuple) -> List[Field]:
    out = []
    for name, spec in (raw or {}).items():
        _check_name(name, where)
        if not isinstance(spec, dict) or "type" not in spec or set(spec) - {"type", "optional"}:
            raise SchemaError("%s.%s: a field is {type: T} or {type: T, optional: true}" % (where, name))
        optional = spec.get("optional", False)
        if not isinstance(optional, bool):
            raise SchemaError("%s.%s: optional must be true or false" % (where, name))
        out.append(Field(name, str(spec["type"]), optional, comments.get(("field",) + key + (name,), "")))
    return out


def _check_types(fields: List[Field], where: str, struct_names) -> None:
    for f in fields:
        ok = (f.type in SCALARS or f.type in struct_names or
              (f.is_list and (f.base in LIST_ELEMENTS or f.base in struct_names)))
        if not ok:
            raise SchemaError("%s.%s: unknown type %r" % (where, f.name, f.type))


def _ordered_structs(structs: List[Struct]) -> List[Struct]:
    """Structs with every struct a field uses placed before it (C++ needs complete types)."""
    by_name = {s.name: s for s in structs}
    done: List[Struct] = []
    visiting = set()

    def visit(s: Struct) -> None:
        if s in done:
            return
        if s.name in visiting:
            raise SchemaError("struct %s contains itself" % s.name)
        visiting.add(s.name)
        for f in s.fields:
            if f.base in by_name:
                visit(by_name[f.base])
        visiting.discard(s.name)
        done.append(s)

    for s in structs:
        visit(s)
    return done


def _message(name: str, raw: dict, comments: Dict[tuple, str]) -> Message:
    if not re.fullmatch(r"[A-Z][A-Z0-9_]*", name):
        raise SchemaError("message %r: names are UPPER_SNAKE_CASE" % name)
    allowed = {"code", "direction", "reply", "permission", "writes", "doc", "blobs", "fields"}
    missing = {"code", "direction", "permission", "writes", "doc", "fields"} - set(raw)
    if missing or set(raw) - allowed:
        raise SchemaError("message %s: needs %s; may have reply and blobs; got %s"
                          % (name, ", ".join(sorted(missing)) or "nothing more", ", ".join(raw)))
    if raw["permission"] not in PERMISSIONS:
        raise SchemaError("message %s: permission must be one of %s" % (name, ", ".join(PERMISSIONS)))
    if not isinstance(raw["writes"], bool) or not isinstance(raw["code"], int) or not 0 < raw["code"] < 256:
        raise SchemaError("message %s: writes is true/false and code a byte above 0" % name)
    return Message(name, raw["code"], raw["direction"], raw.get("reply"), comments.get(("reply", name), ""),
                   raw["permission"], raw["writes"], str(raw["doc"]).strip(), raw.get("blobs"),
                   comments.get(("group", name), ""),
                   _fields(raw["fields"], name, comments, ("messages", name)))


def _groups(messages: List[Message], comments: Dict[tuple, str]) -> List[Group]:
    groups: List[Group] = []
    for m in messages:
        if not groups or groups[-1].title != m.group:
            groups.append(Group(m.group, comments.get(("group_note", m.group), ""), []))
        groups[-1].messages.append(m)
    return groups


def load(path: str) -> Schema:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    raw = yaml.safe_load(text)
    comments = _scan_comments(text)
    proto = raw["protocol"]
    signature = bytes.fromhex(proto["signature_hex"])
    if signature != proto["name"].encode() + bytes([proto["version"]]):
        raise SchemaError("signature_hex must be the name's ASCII bytes then the version byte")
    structs = [Struct(n, _fields(fs, n, comments, ("structs", n)), comments.get(("struct", n), ""))
               for n, fs in raw["structs"].items()]
    names = {s.name for s in structs}
    for s in structs:
        _check_types(s.fields, s.name, names)
    messages = [_message(n, m, comments) for n, m in raw["messages"].items()]
    by_code: Dict[int, str] = {}
    for m in messages:
        _check_types(m.fields, m.name, names)
        if m.code in by_code:
            raise SchemaError("messages %s and %s share code 0x%02x" % (by_code[m.code], m.name, m.code))
        by_code[m.code] = m.name
        if m.reply is not None and m.reply not in {x.name for x in messages}:
            raise SchemaError("message %s replies with unknown message %s" % (m.name, m.reply))
    envelope = _fields(raw["envelope_fields"], "envelope_fields", comments, ("envelope_fields", None))
    limits = [(n, v, comments.get(("limit", "limits", None, n), "")) for n, v in raw["limits"].items()]
    return Schema(proto["name"], proto["version"], signature, limits, list(raw["errors"].items()), envelope,
                  _ordered_structs(structs), messages, _groups(messages, comments))
