# titan_sdk.protocol encode/decode beyond the golden vectors: round trips of every message, the C++
# codec's edge rules (limits, nesting, duplicate keys, int vs bool), and encode refusing our own mistakes.
import msgpack
import pytest

from titan_sdk import protocol
from titan_sdk.protocol import MsgType, decode, encode

SIG = protocol.SIGNATURE
SAMPLE = {"str": "ünï", "bin": b"\x00\x01", "value": b"\xff\x00v", "int": -7, "bool": True, "map": {"a": 1},
          "list<value>": ["x", b"\xff"], "list<str>": ["x", ""]}


def sample(type_, optional=True):
    """A value of `type_`; structs get every field (or only the required ones)."""
    if type_ in protocol.STRUCTS:
        return {f.name: sample(f.type, optional) for f in protocol.STRUCTS[type_] if optional or not f.optional}
    if type_.startswith("list<") and type_[5:-1] in protocol.STRUCTS:
        return [sample(type_[5:-1], optional), sample(type_[5:-1], optional)]
    return SAMPLE[type_]


def raw(code, body_obj, *blobs):
    return [SIG, bytes([code]), msgpack.packb(body_obj, use_bin_type=True), *blobs]


@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
def test_every_message_type_round_trips_with_rid(msg_type):
    fields = {f.name: sample(f.type) for f in protocol.MESSAGES[msg_type]}
    fields["rid"] = 7
    d = decode(encode(msg_type, fields))
    assert d.ok, d.reason
    assert (d.type, d.fields, d.rid) == (msg_type, fields, 7)


@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
def test_optional_fields_may_be_absent(msg_type):
    fields = {f.name: sample(f.type, optional=False) for f in protocol.MESSAGES[msg_type] if not f.optional}
    d = decode(encode(msg_type, fields))
    assert d.ok, d.reason
    assert d.rid is None


def test_encoding_is_canonical_regardless_of_dict_order():
    a = encode(MsgType.STORE_CAS, {"key": "k", "expected": "1", "value": "2", "rid": 3})
    b = encode(MsgType.STORE_CAS, {"rid": 3, "value": "2", "expected": "1", "key": "k"})
    assert a == b
    assert msgpack.unpackb(a[2]) == {"key": "k", "expected": "1", "value": "2", "rid": 3}
    assert list(msgpack.unpackb(a[2])) == ["key", "expected", "value", "rid"]


def test_none_fields_are_left_out():
    assert encode(MsgType.STORE_CAS, {"key": "k", "expected": None, "value": "v"})[2] == \
        msgpack.packb({"key": "k", "value": "v"}, use_bin_type=True)


def test_str_and_bin_stay_distinct():
    d = decode(encode(MsgType.STORE_PUT, {"key": b"k", "value": "k"}))
    assert (type(d.fields["key"]), type(d.fields["value"])) == (bytes, str)


def test_blob_frames_travel_raw():
    frames = encode(MsgType.STORE_OK, {}, [b"\x00" * 10, b""])
    assert frames[3:] == [b"\x00" * 10, b""]
    assert decode(frames).blobs == [b"\x00" * 10, b""]


def test_missing_field_names_the_field():
    d = decode(raw(0x10, {"key": "k"}))
    assert (d.status, d.reason) == ("MALFORMED", "STORE_PUT needs field 'value' (value)")


def test_nil_required_field_is_missing_but_nil_optional_is_fine():
    assert decode(raw(0x10, {"key": "k", "value": None})).status == "MALFORMED"
    d = decode(raw(0x21, {"found": False, "value": None, "rid": None}))
    assert d.ok and d.fields == {"found": False} and d.rid is None


@pytest.mark.parametrize("body,why", [
    ({"key": "k", "delta": True}, "bool is not int"),
    ({"key": "k", "delta": 1.0}, "float is not int"),
    ({"key": 1, "delta": 1}, "int is not value"),
    ({"key": ["k"], "delta": 1}, "list is not value"),
    ({"key": "k", "delta": 1, "rid": "1"}, "rid must be int"),
])
def test_wrong_field_types_are_malformed(body, why):
    assert decode(raw(0x16, body)).status == "MALFORMED", why


def test_bool_field_rejects_int():
    assert decode(raw(0x23, {"items": [], "truncated": 0})).status == "MALFORMED"


def test_list_with_a_non_value_item_is_malformed():
    d = decode(raw(0x23, {"items": ["a", 1], "truncated": False}))
    assert d.status == "MALFORMED" and "items" in d.reason


def test_invalid_utf8_inside_a_list_is_malformed():
    body = b"\x82\xa5items\x91\xa2\xc3\x28\xa9truncated\xc2"
    assert decode([SIG, b"\x23", body]).status == "MALFORMED"


def test_invalid_utf8_in_an_unknown_field_is_ignored():
    body = b"\x82\xa3key\xa1k\xa5extra\xa2\xc3\x28"  # like C++: only schema fields are checked
    d = decode([SIG, b"\x11", body])
    assert d.ok and d.fields == {"key": "k"}


@pytest.mark.parametrize("text", [b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80"],
                         ids=["surrogate", "overlong", "above_10ffff", "five_bytes"])
def test_utf8_rules_match_the_cpp_codec(text):
    body = b"\x81\xa3key" + bytes([0xa0 | len(text)]) + text
    assert decode([SIG, b"\x11", body]).status == "MALFORMED"


def test_nested_struct_errors_name_the_path():
    jobs = [{"id": "a", "file": "a.py"}, {"id": "b", "file": 7}]
    d = decode(raw(0x31, {"jobs": jobs, "files": []}))
    assert (d.status, d.reason) == ("MALFORMED", "JOB_SUBMIT.jobs[1] field 'file' must be str")
    d = decode(raw(0x31, {"jobs": [{"id": "a"}], "files": []}))
    assert d.reason == "JOB_SUBMIT.jobs[0] needs field 'file' (str)"
    d = decode(raw(0x56, {"result": {"id": "a"}}))
    assert d.reason == "JOB_DONE.result needs field 'attempt' (int)"
    d = decode(raw(0x31, {"jobs": ["a"], "files": []}))
    assert d.reason == "JOB_SUBMIT field 'jobs' item 0 must be JobSpec"
    d = decode(raw(0x32, {"ids": ["a", 1]}))
    assert d.reason == "JOB_ACCEPTED field 'ids' item 1 must be str"


def test_structs_encode_in_schema_order_and_drop_unknown_keys_on_decode():
    result = {"reason": "r", "cancelled": False, "signal": 0, "exit_code": 1, "attempt": 2, "id": "a"}
    frames = encode(MsgType.JOB_DONE, {"result": result})
    assert list(msgpack.unpackb(frames[2])["result"]) == ["id", "attempt", "exit_code", "signal", "cancelled",
                                                          "reason"]
    peer = raw(0x56, {"result": dict(result, future=1)})
    assert decode(peer).fields == {"result": result}
    with pytest.raises(ValueError, match="future"):
        encode(MsgType.JOB_DONE, {"result": dict(result, future=1)})


def test_unknown_keys_are_ignored():
    d = decode(raw(0x11, {"key": "k", "future_field": [1, {"x": 2}]}))
    assert d.ok and d.fields == {"key": "k"}


def test_duplicate_keys_are_malformed():
    body = b"\x82\xa3key\xa1a\xa3key\xa1b"
    d = decode([SIG, b"\x11", body])
    assert d.status == "MALFORMED" and "twice" in d.reason


def test_extension_types_are_malformed():
    body = b"\x82\xa3key\xa1k\xa1x" + msgpack.packb(msgpack.ExtType(5, b"\x00"))
    assert decode([SIG, b"\x11", body]).status == "MALFORMED"


def test_nesting_limit_matches_msgpack_c():
    def nested(depth):  # `depth` arrays inside the body map's value
        return b"\x82\xa3key\xa1k\xa1x" + b"\x91" * depth + b"\xc0"
    assert decode([SIG, b"\x11", nested(31)]).ok  # containers at depths 0..31
    assert decode([SIG, b"\x11", nested(32)]).status == "MALFORMED"


def test_int64_bounds():
    lo, hi = protocol.INT64_MIN, protocol.INT64_MAX
    assert decode(raw(0x24, {"value": lo})).fields["value"] == lo
    assert decode(raw(0x24, {"value": hi})).fields["value"] == hi
    assert decode(raw(0x24, {"value": hi + 1})).status == "MALFORMED"


def test_rid_is_read_even_when_the_type_is_unknown_or_fields_are_bad():
    assert decode(raw(0x7F, {"rid": 9})).rid == 9
    d = decode(raw(0x10, {"key": "k", "rid": 9}))
    assert (d.status, d.rid) == ("MALFORMED", 9)


def test_unknown_type_with_garbage_body_is_malformed_like_cpp():
    assert decode([SIG, b"\x7f", b"\xc1"]).status == "MALFORMED"


def test_oversized_body_is_too_large_before_parsing():
    d = decode([SIG, b"\x11", b"\xc1" * (protocol.MAX_BODY_BYTES + 1)])
    assert d.status == "TOO_LARGE" and str(protocol.MAX_BODY_BYTES) in d.reason


def test_frame_count_limits():
    assert decode([b"x"] * (protocol.MAX_FRAMES + 1)).status == "TOO_LARGE"
    ok = raw(0x20, {}) + [b"blob"] * (protocol.MAX_FRAMES - 3)
    assert decode(ok).ok
    assert decode([SIG, b"\x20"]).status == "MALFORMED"


def test_wrong_version_names_both_versions():
    d = decode([b"TITAN\x07", b"\x20", b"\x80"])
    assert d.status == "WRONG_VERSION" and "7" in d.reason and "1" in d.reason


def test_decode_never_raises_on_odd_input():
    for frames in ([], [b""] * 3, [SIG, b"", b""], [SIG, b"\x11", b""], [memoryview(SIG), b"\x20", b"\x80"]):
        assert isinstance(decode(frames).status, str)


def test_encode_refuses_our_own_mistakes():
    with pytest.raises(ValueError, match="no field"):
        encode(MsgType.STORE_GET, {"key": "k", "valu": "x"})
    with pytest.raises(TypeError, match="needs field 'value'"):
        encode(MsgType.STORE_PUT, {"key": "k"})
    with pytest.raises(TypeError, match="delta"):
        encode(MsgType.STORE_INCR, {"key": "k", "delta": True})
    with pytest.raises(TypeError, match="delta"):
        encode(MsgType.STORE_INCR, {"key": "k", "delta": 2**63})
    with pytest.raises(TypeError, match="UTF-8"):
        encode(MsgType.STORE_GET, {"key": "\udc80"})
    with pytest.raises(ValueError, match="frames"):
        encode(MsgType.STORE_OK, {}, [b""] * protocol.MAX_FRAMES)


BAD_VALUES = [None, 1, -1, 2 ** 63, -(2 ** 63) - 1, True, 1.5, "x", "\udcff", b"b", bytearray(b"b"), [], ["\udcff"], [1],
              [b"x", 2], {}, {"a": 1}, [{}]]


def _mutations(specs, fields):
    """`fields` with one value replaced by each of BAD_VALUES (or removed), at the top level and inside every
    struct value, recursively."""
    for f in specs:
        for bad in BAD_VALUES + ["<removed>"]:
            m = dict(fields)
            if bad == "<removed>":
                m.pop(f.name, None)
            else:
                m[f.name] = bad
            yield m
        v = fields.get(f.name)
        if f.type in protocol.STRUCTS and isinstance(v, dict):
            for inner in _mutations(protocol.STRUCTS[f.type], v):
                yield dict(fields, **{f.name: inner})
        if f.type.startswith("list<") and f.type[5:-1] in protocol.STRUCTS and isinstance(v, list) and v:
            for inner in _mutations(protocol.STRUCTS[f.type[5:-1]], v[0]):
                yield dict(fields, **{f.name: [inner] + v[1:]})


@pytest.mark.parametrize("msg_type", list(MsgType), ids=lambda t: t.name)
def test_the_compiled_checks_agree_with_the_reasons(msg_type):
    """encode and decode take a message as valid from the compiled verdicts, and ask _validate_map for the reason
    only when they refuse it: the two must agree on every message, good or bad."""
    c = protocol._message(msg_type)
    full = {f.name: sample(f.type) for f in protocol.MESSAGES[msg_type]}
    required = {f.name: sample(f.type, optional=False) for f in protocol.MESSAGES[msg_type] if not f.optional}
    checked = 0
    for base in (full, required):
        for m in [base] + list(_mutations(c.specs, base)):
            assert protocol._valid(c, m) == (protocol._validate_map(c.specs, m, msg_type.name) is None), m
            checked += 1
    assert checked > 2
