# The store's side of the wire, seen through a raw DEALER socket: WELCOME, rid echoed on every reply
# (ERROR included), and bad frames answered with the schema's error codes while the store keeps serving.
import msgpack
import pytest
import zmq

from titan_sdk import protocol
from titan_sdk.protocol import MsgType

SIG = protocol.SIGNATURE


@pytest.fixture
def wire(store):
    """send(frames) -> decoded reply, over a DEALER socket that speaks raw frames."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(store.endpoint)

    def send(frames):
        sock.send_multipart([b""] + list(frames))
        assert sock.poll(5000), "the store did not answer within 5 s"
        parts = sock.recv_multipart()
        assert parts[0] == b"", "a reply to a DEALER client must start with the empty delimiter"
        reply = protocol.decode(parts[1:])
        assert reply.ok, reply.reason
        return reply

    yield send
    sock.close(0)
    ctx.term()


def body(obj):
    return msgpack.packb(obj, use_bin_type=True)


def test_hello_gets_welcome_from_a_store(wire):
    r = wire(protocol.encode(MsgType.HELLO, {"client": "test", "rid": 5}))
    assert (r.type, r.fields["node"], r.rid) == (MsgType.WELCOME, "store", 5)
    assert r.fields["version"] and r.fields.get("store_port") is None


@pytest.mark.parametrize("msg_type,fields,reply", [
    (MsgType.STORE_PUT, {"key": "k", "value": "v"}, MsgType.STORE_OK),
    (MsgType.STORE_GET, {"key": "k"}, MsgType.STORE_VALUE),
    (MsgType.STORE_SADD, {"key": "s", "member": "m"}, MsgType.STORE_COUNT),
    (MsgType.STORE_INCR, {"key": "n", "delta": 1}, MsgType.STORE_INT),
    (MsgType.STORE_KEYS, {"prefix": "", "limit": 10}, MsgType.STORE_LIST),
    (MsgType.STORE_CAS, {"key": "c", "value": "v"}, MsgType.STORE_CAS_RESULT),
    (MsgType.STORE_PUT, {"key": "", "value": "v"}, MsgType.ERROR),
])
def test_every_reply_echoes_the_rid(wire, msg_type, fields, reply):
    rid = 2**40 + 3
    r = wire(protocol.encode(msg_type, dict(fields, rid=rid)))
    assert (r.type, r.rid) == (reply, rid)


@pytest.mark.parametrize("frames,code", [
    ([SIG, b"\x11", body({"key": "k", "rid": 8})[:-1]], "MALFORMED"),
    ([SIG, b"\x10", body({"key": "k", "rid": 8})], "MALFORMED"),
    ([SIG, b"\x16", body({"key": "k", "delta": "1", "rid": 8})], "MALFORMED"),
    ([b"TITAN\x02", b"\x11", body({"key": "k", "rid": 8})], "WRONG_VERSION"),
    ([SIG, b"\x7f", body({"rid": 8})], "UNKNOWN_TYPE"),
    ([SIG, b"\x20", body({"rid": 8})], "UNKNOWN_TYPE"),  # a reply type is not a request
    ([SIG, b"\x11", body({"key": "k", "rid": 8})] + [b"x"] * protocol.MAX_FRAMES, "TOO_LARGE"),
])
def test_bad_requests_get_error_codes_and_the_store_keeps_serving(wire, frames, code):
    r = wire(frames)
    assert r.type == MsgType.ERROR
    assert r.fields["code"] == code, r.fields["reason"]
    assert r.fields["reason"]
    ok = wire(protocol.encode(MsgType.STORE_GET, {"key": "k", "rid": 1}))
    assert ok.type == MsgType.STORE_VALUE
