# The SDK against a real `titan store`: every TitanStore call, exact str/bytes round trips, limits,
# typed errors, atomic increments from threads, both constructor styles, and timeouts.
import threading
import time

import pytest

from store_process import StoreProcess
from titan_sdk import (InvalidError, TitanClient, TitanTimeoutError, TooLargeError,
                       WrongTypeError, protocol)

MAX_KEY = protocol.MAX_KEY_BYTES
MAX_VALUE = protocol.MAX_VALUE_BYTES


# ---- values ------------------------------------------------------------------------------------------

def test_seed_example_round_trips(client):
    assert client.store_put("task_123_accuracy", "98.5") == "OK"  # the original's reply
    assert client.store_get("task_123_accuracy") == "98.5"


@pytest.mark.parametrize("key,value", [
    ("text", "98.5"),
    (b"\x00\xffbinary-key", bytes(range(256))),
    ("ключ", "值 ✓ — ünïcødé 🚀"),
    ("bytes-that-look-like-text", b"plain ascii"),
    ("text-with-nul", "a\x00b"),
    ("e", ""),
    ("eb", b""),
])
def test_values_round_trip_exactly_with_their_type(client, key, value):
    client.store_put(key, value)
    got = client.store_get(key)
    assert (type(got), got) == (type(value), value)


def test_numbers_are_stored_as_their_str(client):
    client.store_put("i", 42)
    client.store_put("f", 98.5)
    assert (client.store_get("i"), client.store_get("f")) == ("42", "98.5")


def test_put_overwrites(client):
    client.store_put("k", "one")
    client.store_put("k", b"two")
    assert client.store_get("k") == b"two"


def test_missing_key_is_none_not_a_string(client):
    assert client.store_get("never-written") is None


def test_value_of_exactly_max_value_bytes_is_accepted(client):
    value = b"\xab" * MAX_VALUE
    client.store_put("big", value)
    assert client.store_get("big") == value


def test_value_one_byte_over_the_limit_is_too_large(client):
    with pytest.raises(TooLargeError) as info:
        client.store_put("big", "x" * (MAX_VALUE + 1))
    assert info.value.code == "TOO_LARGE" and info.value.reason
    assert client.store_get("big") is None


def test_body_over_max_body_bytes_is_too_large_from_the_store(client):
    with pytest.raises(TooLargeError, match="body of"):
        client.store_put("huge", b"x" * (protocol.MAX_BODY_BYTES + 1))


def test_frame_the_store_would_drop_silently_is_refused_by_the_client(client):
    t0 = time.monotonic()
    with pytest.raises(TooLargeError, match="drops such a connection"):
        client.store_put("huge", b"x" * (2 * protocol.MAX_BODY_BYTES + 1))
    assert time.monotonic() - t0 < client.timeout / 2  # refused at once, not a timeout
    assert client.store_get("huge") is None


def test_key_limits_count_utf8_bytes(client):
    client.store_put("k" * MAX_KEY, "ok")
    assert client.store_get("k" * MAX_KEY) == "ok"
    client.store_put("é" * (MAX_KEY // 2), "ok")  # 2 bytes each: exactly at the limit
    with pytest.raises(TooLargeError):
        client.store_put("k" * (MAX_KEY + 1), "v")
    with pytest.raises(TooLargeError):
        client.store_put("é" * (MAX_KEY // 2) + "k", "v")
    with pytest.raises(TooLargeError):
        client.store_get(b"k" * (MAX_KEY + 1))


def test_empty_key_is_invalid(client):
    with pytest.raises(InvalidError):
        client.store_put("", "v")


def test_prefix_and_cas_expected_limits(client):
    with pytest.raises(TooLargeError):
        client.store_keys("p" * (MAX_KEY + 1))
    client.store_put("c", "v")
    with pytest.raises(TooLargeError):
        client.store_cas("c", "e" * (MAX_VALUE + 1), "w")


def test_delete(client):
    client.store_put("v", "1")
    client.store_sadd("s", "m")
    assert [client.store_delete("v"), client.store_delete("s"), client.store_delete("v")] == [1, 1, 0]
    assert (client.store_get("v"), client.store_smembers("s")) == (None, [])


# ---- sets --------------------------------------------------------------------------------------------

def test_sadd_reports_new_then_existing(client):
    assert client.store_sadd("processed_files", "batch_A.csv") == 1
    assert client.store_sadd("processed_files", "batch_A.csv") == 0
    assert client.store_smembers("processed_files") == ["batch_A.csv"]


def test_smembers_keeps_insertion_order_and_member_types(client):
    members = ["c", b"\x00b", "ä", "a", b""]
    for m in members:
        assert client.store_sadd("s", m) == 1
    got = client.store_smembers("s")
    assert [(type(m), m) for m in got] == [(type(m), m) for m in members]


def test_srem(client):
    for m in ("a", "b", "c"):
        client.store_sadd("s", m)
    assert [client.store_srem("s", "b"), client.store_srem("s", "b"), client.store_srem("nope", "b")] == [1, 0, 0]
    client.store_sadd("s", "b")
    assert client.store_smembers("s") == ["a", "c", "b"]


def test_smembers_of_missing_key_is_empty(client):
    assert client.store_smembers("no-such-set") == []


def test_removing_the_last_member_deletes_the_key(client):
    client.store_sadd("s", "only")
    assert client.store_srem("s", "only") == 1
    assert (client.store_keys("s"), client.store_delete("s")) == ([], 0)
    client.store_put("s", "now a value")  # the key is free for a value again


def test_member_over_max_value_bytes_is_too_large(client):
    client.store_sadd("s", "m" * MAX_VALUE)
    with pytest.raises(TooLargeError):
        client.store_sadd("s", "m" * (MAX_VALUE + 1))


# ---- incr, cas, keys ------------------------------------------------------------------------------

def test_incr(client):
    assert client.store_incr("n") == 1
    assert client.store_incr("n", 41) == 42
    assert client.store_incr("n", -50) == -8
    assert client.store_get("n") == "-8"
    client.store_put("m", "41")
    assert client.store_incr("m") == 42


def test_incr_of_binary_integer_text_stores_text(client):
    client.store_put("b", b"7")
    assert client.store_incr("b") == 8
    assert client.store_get("b") == "8"


def test_incr_overflow_is_invalid_not_a_wrap_around(client):
    client.store_put("n", str(protocol.INT64_MAX))
    with pytest.raises(InvalidError):
        client.store_incr("n")
    assert client.store_get("n") == str(protocol.INT64_MAX)
    assert client.store_incr("n", -1) == protocol.INT64_MAX - 1


def test_incr_is_atomic_across_threads(client):
    def work():
        with TitanClient(host=client.host, port=client.port, timeout=10) as own:
            for _ in range(200):
                own.store_incr("counter")
                client.store_incr("shared-client-counter")  # one client shared by all threads too

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert client.store_get("counter") == "1600"
    assert client.store_get("shared-client-counter") == "1600"


def test_cas(client):
    assert client.store_cas("lock", None, "owner-1") is True       # absent: taken
    assert client.store_cas("lock", None, "owner-2") is False      # present: refused
    assert client.store_cas("lock", "owner-2", "owner-3") is False  # wrong expectation
    assert client.store_get("lock") == "owner-1"
    assert client.store_cas("lock", "owner-1", "owner-2") is True
    assert client.store_get("lock") == "owner-2"


def test_keys_by_prefix_in_byte_order_with_limit(client):
    for k in ("run:b", "run:a", "other", "run:c"):
        client.store_put(k, "1")
    client.store_sadd("run:set", "m")
    assert client.store_keys("run:") == ["run:a", "run:b", "run:c", "run:set"]
    assert client.store_keys("run:", limit=2) == ["run:a", "run:b"]
    assert client.store_keys() == ["other", "run:a", "run:b", "run:c", "run:set"]
    with pytest.raises(InvalidError):
        client.store_keys("run:", limit=-1)
    with pytest.raises(InvalidError):
        client.store_keys("run:", limit=0)


def test_keys_are_bytes_listed_as_str_when_valid_utf8(client):
    client.store_put(b"\xff\x00bin", "v")
    client.store_put(b"text-as-bin", "v")
    assert client.store_get("text-as-bin") == "v"  # str "k" and bin b"k" name the same key
    assert client.store_keys(b"\xff") == [b"\xff\x00bin"]
    assert client.store_keys(b"text") == ["text-as-bin"]


# ---- wrong types -------------------------------------------------------------------------------------

def test_incr_on_a_non_integer_is_wrong_type(client):
    client.store_put("word", "ninety")
    with pytest.raises(WrongTypeError) as info:
        client.store_incr("word")
    assert info.value.code == "WRONG_TYPE" and info.value.reason
    assert client.store_get("word") == "ninety"


def test_sadd_on_a_value_is_wrong_type(client):
    client.store_put("plain", "v")
    with pytest.raises(WrongTypeError):
        client.store_sadd("plain", "m")


def test_value_operations_on_a_set_are_wrong_type(client):
    client.store_sadd("set", "m")
    for call in (lambda: client.store_get("set"), lambda: client.store_incr("set"),
                 lambda: client.store_put("set", "v"), lambda: client.store_cas("set", None, "v")):
        with pytest.raises(WrongTypeError):
            call()
    assert client.store_smembers("set") == ["m"]


def test_set_reads_of_a_value_are_wrong_type(client):
    client.store_put("plain", "v")
    with pytest.raises(WrongTypeError):
        client.store_smembers("plain")
    with pytest.raises(WrongTypeError):
        client.store_srem("plain", "v")


# ---- construction and reachability --------------------------------------------------------------

def test_explicit_constructor(store):
    with TitanClient(host="localhost", port=store.port) as c:
        c.store_put("k", "v")
        assert c.store_get("k") == "v"


def test_environment_constructor(store, monkeypatch):
    monkeypatch.setenv("TITAN_HOST", "127.0.0.1")
    monkeypatch.setenv("TITAN_PORT", str(store.port))
    monkeypatch.setenv("TITAN_TIMEOUT", "5")
    with TitanClient() as c:
        c.store_put("k", "v")
        assert (c.store_get("k"), c.timeout) == ("v", 5.0)


def test_store_is_its_own_store_endpoint(client, store):
    assert client.store_endpoint == store.endpoint


def test_timeout_when_nothing_listens_then_works_once_a_store_appears(free_port, tmp_path):
    c = TitanClient(port=free_port, timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(TitanTimeoutError) as info:
        c.store_get("x")
    assert time.monotonic() - t0 < 3
    assert "127.0.0.1:%d" % free_port in str(info.value) and "TITAN_HOST" in str(info.value)
    late = StoreProcess(tmp_path / "late", port=free_port).start()
    try:
        c.store_put("x", "now")
        assert c.store_get("x") == "now"
    finally:
        c.close()
        late.stop()


def test_store_prints_exactly_one_ready_line(store):
    assert store.stop() == 0
    assert store.stdout_lines == ["READY store tcp://127.0.0.1:%d" % store.port]
