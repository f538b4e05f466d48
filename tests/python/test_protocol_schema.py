# titan_sdk/protocol.py must equal schemas/protocol.yaml, the one definition of the wire protocol.
import pytest
import yaml

from store_process import REPO_ROOT
from titan_sdk import errors, protocol
from titan_sdk.protocol import ErrorCode, MsgType


@pytest.fixture(scope="module")
def schema():
    with open(REPO_ROOT / "schemas" / "protocol.yaml", encoding="utf-8") as f:
        return yaml.safe_load(f)


def render_yaml_fields(fields):
    """'name:type[?]' per field, in order: a readable rendering to compare."""
    return " ".join("%s:%s%s" % (k, v["type"], "?" if v.get("optional") else "") for k, v in (fields or {}).items())


def render_fields(specs):
    return " ".join("%s:%s%s" % (f.name, f.type, "?" if f.optional else "") for f in specs)


def test_name_version_signature(schema):
    assert schema["protocol"]["name"].encode() == protocol.PROTOCOL_NAME
    assert schema["protocol"]["version"] == protocol.PROTOCOL_VERSION
    assert bytes.fromhex(schema["protocol"]["signature_hex"]) == protocol.SIGNATURE == b"TITAN\x01"


def test_limits(schema):
    limits = schema["limits"]
    assert limits == {
        "max_frames": protocol.MAX_FRAMES,
        "max_body_bytes": protocol.MAX_BODY_BYTES,
        "max_key_bytes": protocol.MAX_KEY_BYTES,
        "max_value_bytes": protocol.MAX_VALUE_BYTES,
        "max_members_reply": protocol.MAX_MEMBERS_REPLY,
        "max_chunk_bytes": protocol.MAX_CHUNK_BYTES,
    }


def test_error_codes(schema):
    assert list(schema["errors"]) == [c.value for c in ErrorCode]
    assert all(c.name == c.value for c in ErrorCode)


def test_every_error_code_has_its_exception_class(schema):
    assert sorted(errors.ERROR_CLASSES) == sorted(schema["errors"])
    for code, cls in errors.ERROR_CLASSES.items():
        e = errors.error_from_reply(code, "why")
        assert type(e) is cls and e.code == code and e.reason == "why"
        assert isinstance(e, errors.TitanNodeError) and isinstance(e, errors.TitanError)


def test_envelope_fields(schema):
    assert render_yaml_fields(schema["envelope_fields"]) == render_fields(protocol.ENVELOPE_FIELDS) == "rid:int?"


def test_message_names_and_codes(schema):
    yaml_table = {name: m["code"] for name, m in schema["messages"].items()}
    assert yaml_table == {t.name: t.value for t in MsgType}
    assert list(schema["messages"]) == [t.name for t in MsgType]  # same order, too


def test_message_fields_in_schema_order(schema):
    for name, m in schema["messages"].items():
        assert render_fields(protocol.MESSAGES[MsgType[name]]) == render_yaml_fields(m["fields"]), name
    assert set(protocol.MESSAGES) == set(MsgType)


def test_structs(schema):
    assert list(schema["structs"]) == list(protocol.STRUCTS)
    for name, fields in schema["structs"].items():
        assert render_fields(protocol.STRUCTS[name]) == render_yaml_fields(fields), name


def test_every_field_type_is_known(schema):
    known = set(protocol.FIELD_TYPES) | set(schema["structs"]) | {"list<%s>" % s for s in schema["structs"]}
    field_lists = [m["fields"] for m in schema["messages"].values()] + list(schema["structs"].values())
    assert {f["type"] for fields in field_lists for f in (fields or {}).values()} <= known
    py_lists = list(protocol.MESSAGES.values()) + list(protocol.STRUCTS.values())
    assert {f.type for specs in py_lists for f in specs} <= known


def test_replies(schema):
    yaml_replies = {name: m["reply"] for name, m in schema["messages"].items() if "reply" in m}
    assert yaml_replies == {req.name: rep.name for req, rep in protocol.REPLIES.items()}
