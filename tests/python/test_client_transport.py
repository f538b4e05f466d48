# TitanClient against scripted fake nodes: discovery through WELCOME, rid matching, typed ERRORs,
# protocol violations, timeouts that reset the socket, threads and fork.
import os
import select
import signal
import threading
import time

import pytest

from fake_node import FakeNode, welcome
from titan_sdk import (InvalidError, TitanClient, TitanNodeError, TitanProtocolError, TitanTimeoutError,
                       TooLargeError, protocol)
from titan_sdk.protocol import MsgType


def value_reply(d, value="v", rid=None):
    return protocol.encode(MsgType.STORE_VALUE, {"found": True, "value": value,
                                                  "rid": d.rid if rid is None else rid})


def lone_store(on_get):
    """A node that is its own store: WELCOME without store_port, then `on_get` for everything else."""
    hello = welcome("store")
    return lambda d, frames: hello(d, frames) if d.type == MsgType.HELLO else on_get(d, frames)


def test_broker_welcome_points_the_client_at_the_store():
    with FakeNode(lambda d, f: [value_reply(d)]) as store, \
         FakeNode(welcome("broker", store_port=0)) as broker:
        broker.respond = welcome("broker", store_port=store.port)
        with TitanClient(host="127.0.0.1", port=broker.port, timeout=5) as c:
            assert c.store_get("k") == "v"
            assert c.store_get("k") == "v"
            assert c.store_endpoint == "tcp://127.0.0.1:%d" % store.port
        assert [d.type for d in broker.requests] == [MsgType.HELLO]  # discovered once, then cached
        assert broker.requests[0].fields["client"].startswith("titan-sdk-py/")
        assert [d.type for d in store.requests] == [MsgType.STORE_GET, MsgType.STORE_GET]


def test_store_host_in_welcome_overrides_the_client_host():
    with FakeNode(lambda d, f: [value_reply(d)]) as store, FakeNode(welcome("broker")) as broker:
        broker.respond = welcome("broker", store_port=store.port, store_host="127.0.0.1")
        with TitanClient(host="localhost", port=broker.port, timeout=5) as c:
            assert c.store_get("k") == "v"
            assert c.store_endpoint == "tcp://127.0.0.1:%d" % store.port


def test_welcome_without_store_port_means_the_same_address():
    with FakeNode(lone_store(lambda d, f: [value_reply(d)])) as node:
        with TitanClient(port=node.port, timeout=5) as c:
            assert c.store_get("k") == "v"
            assert c.store_endpoint == "tcp://127.0.0.1:%d" % node.port
        assert [d.type for d in node.requests] == [MsgType.HELLO, MsgType.STORE_GET]


def test_every_request_has_a_fresh_rid():
    with FakeNode(lone_store(lambda d, f: [value_reply(d)])) as node:
        with TitanClient(port=node.port, timeout=5) as c:
            for _ in range(3):
                c.store_get("k")
        rids = [d.rid for d in node.requests]
        assert None not in rids and len(set(rids)) == len(rids)


def test_stale_replies_are_dropped():
    with FakeNode(lone_store(lambda d, f: [value_reply(d, "stale", rid=d.rid - 1), value_reply(d, "fresh")])) as n:
        with TitanClient(port=n.port, timeout=5) as c:
            assert c.store_get("k") == "fresh"


def test_reply_without_rid_is_accepted_as_the_only_outstanding_request():
    no_rid = protocol.encode(MsgType.STORE_VALUE, {"found": False})
    with FakeNode(lone_store(lambda d, f: [no_rid])) as node:
        with TitanClient(port=node.port, timeout=5) as c:
            assert c.store_get("k") is None


@pytest.mark.parametrize("code,cls", [("TOO_LARGE", TooLargeError), ("INVALID", InvalidError)])
def test_error_replies_raise_typed_exceptions(code, cls):
    err = lambda d, f: [protocol.encode(MsgType.ERROR, {"code": code, "reason": "because", "rid": d.rid})]
    with FakeNode(lone_store(err)) as node:
        with TitanClient(port=node.port, timeout=5) as c:
            with pytest.raises(cls) as info:
                c.store_put("k", "v")
    assert (info.value.code, info.value.reason) == (code, "because")


def test_unknown_error_code_raises_the_base_node_error():
    err = lambda d, f: [protocol.encode(MsgType.ERROR, {"code": "FROM_THE_FUTURE", "reason": "r", "rid": d.rid})]
    with FakeNode(lone_store(err)) as node:
        with TitanClient(port=node.port, timeout=5) as c:
            with pytest.raises(TitanNodeError) as info:
                c.store_get("k")
    assert type(info.value) is TitanNodeError and info.value.code == "FROM_THE_FUTURE"


def test_garbage_reply_is_a_protocol_error_and_the_client_recovers():
    replies = iter([[[b"HTTP/1.1 400"]], [[b"TITAN\x01", b"\x21", b"\xc1"]]])
    with FakeNode(lone_store(lambda d, f: next(replies, [value_reply(d)]))) as node:
        with TitanClient(port=node.port, timeout=5) as c:
            with pytest.raises(TitanProtocolError, match="signature"):
                c.store_get("k")
            with pytest.raises(TitanProtocolError, match="malformed"):
                c.store_get("k")
            assert c.store_get("k") == "v"


def test_wrong_reply_type_is_a_protocol_error():
    ok = lambda d, f: [protocol.encode(MsgType.STORE_OK, {"rid": d.rid})]
    with FakeNode(lone_store(ok)) as node:
        with TitanClient(port=node.port, timeout=5) as c:
            with pytest.raises(TitanProtocolError, match="STORE_GET with STORE_OK; expected STORE_VALUE"):
                c.store_get("k")


def test_unanswered_request_times_out_and_the_next_one_uses_a_fresh_socket():
    calls = []

    def answer_all_but_first(d, frames):
        calls.append(d.rid)
        return [] if len(calls) == 1 else [value_reply(d)]

    with FakeNode(lone_store(answer_all_but_first)) as node:
        with TitanClient(port=node.port, timeout=0.3) as c:
            t0 = time.monotonic()
            with pytest.raises(TitanTimeoutError, match="tcp://127.0.0.1:%d" % node.port):
                c.store_get("k")
            assert 0.25 < time.monotonic() - t0 < 3
            assert c.store_get("k") == "v"
        assert len({d.rid for d in node.requests}) == 3  # HELLO, the unanswered GET, the answered GET


def test_timeout_of_an_announced_store_forgets_it_and_asks_the_broker_again(free_port):
    with FakeNode(welcome("broker", store_port=free_port)) as broker:
        with TitanClient(port=broker.port, timeout=0.3) as c:
            for _ in range(2):
                with pytest.raises(TitanTimeoutError, match="announced by the broker"):
                    c.store_get("k")
        assert [d.type for d in broker.requests] == [MsgType.HELLO, MsgType.HELLO]


def test_threads_share_one_client_and_each_gets_its_own_answer():
    echo = lambda d, f: [value_reply(d, d.fields["key"])]
    with FakeNode(lone_store(echo)) as node, TitanClient(port=node.port, timeout=5) as c:
        results = {}

        def work(i):
            results[i] = [c.store_get("key-%d-%d" % (i, j)) == "key-%d-%d" % (i, j) for j in range(50)]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert {i: all(r) for i, r in results.items()} == {i: True for i in range(8)}


def test_a_forked_child_can_use_the_parents_client():
    with FakeNode(lone_store(lambda d, f: [value_reply(d)])) as node, TitanClient(port=node.port, timeout=5) as c:
        assert c.store_get("k") == "v"  # the parent's sockets exist before the fork
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child reports through the pipe and never returns into pytest
            try:
                os.write(w, b"ok" if c.store_get("k") == "v" else b"wrong value")
            except BaseException as e:
                os.write(w, repr(e).encode()[:200])
            finally:
                os._exit(0)
        os.close(w)
        try:
            ready, _, _ = select.select([r], [], [], 15)
            report = os.read(r, 4096) if ready else b"no report within 15 s (hung)"
        finally:
            os.close(r)
            if not ready:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        assert report == b"ok"
        assert c.store_get("k") == "v"  # and the parent's client still works
