# TitanStore keeps every acknowledged write across a crash: a writer streams puts, the store is killed
# with SIGKILL mid-stream, restarted on the same --dir, and every acknowledged key must be there.
import threading

from store_process import StoreProcess
from titan_sdk import TitanClient, TitanError

MIN_ACKS_BEFORE_KILL = 300
DEADLINE_S = 60


def value_of(i):
    return "value-%d-%s" % (i, "x" * (i % 97))


class Writer(threading.Thread):
    """Puts k0, k1, ... until a put fails; records each acknowledged index in order."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.acked = []
        self.failure = None
        self.enough = threading.Event()  # set once MIN_ACKS_BEFORE_KILL puts were acknowledged

    def run(self):
        with TitanClient(port=self.port, timeout=5.0) as c:  # generous: fsync under a loaded CI box
            i = 0
            while True:
                try:
                    c.store_put("k%d" % i, value_of(i))
                except TitanError as e:  # the store died under us: the end of the stream
                    self.failure = e
                    break
                self.acked.append(i)
                if len(self.acked) >= MIN_ACKS_BEFORE_KILL:
                    self.enough.set()
                i += 1
        self.enough.set()


def test_every_acknowledged_put_survives_kill9(tmp_path):
    data = tmp_path / "store"
    first = StoreProcess(data).start()
    writer = Writer(first.port)
    writer.start()
    try:
        assert writer.enough.wait(DEADLINE_S), "writer got no %d acks in %ds" % (MIN_ACKS_BEFORE_KILL, DEADLINE_S)
        assert writer.failure is None, "writer stopped before the kill: %r" % writer.failure
        first.kill9()  # mid-stream: the writer is still putting
    finally:
        first.kill9()
    writer.join(DEADLINE_S)
    assert not writer.is_alive()
    assert writer.failure is not None, "the writer never noticed the crash"
    acked = list(writer.acked)
    assert acked == list(range(len(acked))) and len(acked) >= MIN_ACKS_BEFORE_KILL

    second = StoreProcess(data).start()
    try:
        with TitanClient(port=second.port, timeout=5) as c:
            lost = [i for i in acked if c.store_get("k%d" % i) != value_of(i)]
            unsent = c.store_get("k%d" % (len(acked) + 1))  # never sent: must not exist
    finally:
        second.stop()
    print("durability: %d acknowledged puts before SIGKILL, %d lost" % (len(acked), len(lost)))
    assert lost == [], "%d of %d acknowledged puts lost, first: %s" % (len(lost), len(acked), lost[:10])
    assert unsent is None


def test_sets_counters_and_deletes_survive_kill9(tmp_path):
    data = tmp_path / "store"
    first = StoreProcess(data).start()
    try:
        with TitanClient(port=first.port, timeout=5) as c:
            for m in ("a", b"\x00b", "c"):
                c.store_sadd("set", m)
            c.store_srem("set", "c")
            for _ in range(25):
                c.store_incr("n", 2)
            c.store_put("gone", "v")
            c.store_delete("gone")
            c.store_cas("lock", None, "owner")
    finally:
        first.kill9()
    second = StoreProcess(data).start()
    try:
        with TitanClient(port=second.port, timeout=5) as c:
            state = (c.store_smembers("set"), c.store_get("n"), c.store_get("gone"), c.store_get("lock"))
    finally:
        second.stop()
    assert state == (["a", b"\x00b"], "50", None, "owner")


def test_a_clean_stop_keeps_everything_too(tmp_path):
    data = tmp_path / "store"
    first = StoreProcess(data).start()
    with TitanClient(port=first.port, timeout=5) as c:
        c.store_put("k", b"\x01\x02")
    assert first.stop() == 0
    second = StoreProcess(data).start()
    try:
        with TitanClient(port=second.port, timeout=5) as c:
            assert c.store_get("k") == b"\x01\x02"
    finally:
        second.stop()
