"""Markdown output of gen_protocol.py: the message reference of docs/protocol.md, written between the
BEGIN and END markers below; the hand-written rest of the document is kept as it is."""
from typing import List

from .model import Field, Message, Schema, Struct

BEGIN = ("<!-- BEGIN GENERATED: message reference, by schemas/gen_protocol.py from schemas/protocol.yaml. "
         "Do not edit; edit the schema and run the generator. -->")
END = "<!-- END GENERATED: message reference -->"


class MarkerError(Exception):
    pass


def _cell(text: str) -> str:
    """Schema prose as Markdown text: a '|' would end the table cell and "<id>" would read as a tag."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<") if text else ""


def _arrow(direction: str) -> str:
    return direction.replace("->", "→")


def _type(f: Field, s: Schema) -> str:
    if s.struct(f.base) is None:
        return "`%s`" % f.type
    link = "[%s](#%s)" % (f.base, f.base.lower())
    return "list\\<%s>" % link if f.is_list else link


def _field_table(fields: List[Field], s: Schema) -> str:
    if not fields:
        return "No fields: the body is an empty map (`80`), or holds only `rid`.\n"
    rows = "".join("| `%s` | %s | %s | %s |\n" % (f.name, _type(f, s), "no" if f.optional else "yes", _cell(f.doc))
                   for f in fields)
    return "| Field | Type | Req. | Meaning |\n| --- | --- | --- | --- |\n" + rows


def _summary(s: Schema) -> str:
    rows = "".join("| `0x%02x` | [`%s`](#%s) | %s | %s | %s | %s |\n"
                   % (m.code, m.name, _anchor(m), _arrow(m.direction), "`%s`" % m.reply if m.reply else "—",
                      m.permission, "yes" if m.writes else "no") for m in s.messages)
    return ("| Code | Name | Direction | Success reply | Permission | Writes |\n"
            "| --- | --- | --- | --- | --- | --- |\n" + rows)


def _anchor(m: Message) -> str:
    """GitHub's anchor of the heading "#### NAME (0xNN), a → b"."""
    text = "%s 0x%02x %s" % (m.name, m.code, _arrow(m.direction))
    out = "".join(c for c in text.lower() if c.isalnum() or c in " _-")
    return out.replace(" ", "-")


def _message(m: Message, s: Schema) -> str:
    facts = []
    if m.reply:
        facts.append("Reply: `%s`%s." % (m.reply, " (%s)" % _cell(m.reply_note) if m.reply_note else ""))
    facts.append("Permission: %s." % ("none" if m.permission == "none" else "`%s`" % m.permission))
    facts.append("Writes: %s." % ("yes" if m.writes else "no"))
    if m.blobs:
        facts.append("Blob frames: %s." % _cell(m.blobs))
    return "#### %s (0x%02x), %s\n\n%s\n\n%s\n\n%s" % (m.name, m.code, _arrow(m.direction), _cell(m.doc), " ".join(facts),
                                                        _field_table(m.fields, s))


def _struct(st: Struct, s: Schema) -> str:
    return "#### %s\n\n%s%s" % (st.name, _cell(st.doc) + "\n\n" if st.doc else "", _field_table(st.fields, s))


def section(s: Schema) -> str:
    """The generated part of §9: the summary table, each group of messages, then the structs."""
    out = [BEGIN, "\n\n### 9.1 All messages\n\n", _summary(s)]
    for i, g in enumerate(s.groups, start=2):
        title = g.title[0].upper() + g.title[1:]
        out.append("\n### 9.%d %s\n\n" % (i, title))
        if g.note:
            out.append(_cell(g.note) + "\n\n")
        out.append("\n".join(_message(m, s) for m in g.messages))
    out.append("\n### 9.%d Structs\n\nStruct-typed fields hold a msgpack map checked against the struct's "
               "fields, as a body is.\n\n" % (len(s.groups) + 2))
    out.append("\n".join(_struct(st, s) for st in s.structs))
    out.append("\n" + END)
    return "".join(out)


def splice(document: str, generated: str) -> str:
    """`document` with the text between its markers (inclusive) replaced by `generated`."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < start or document.count(BEGIN) != 1 or document.count(END) != 1:
        raise MarkerError("docs/protocol.md needs exactly one pair of markers:\n%s\n...\n%s" % (BEGIN, END))
    return document[:start] + generated + document[end + len(END):]
