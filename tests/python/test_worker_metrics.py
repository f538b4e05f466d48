# Workers report their machine (CPU, memory, load, disk) in their heartbeats: on a real cluster the
# broker's heartbeat events carry it, STATS lists it per worker and `titan stats` shows it. The test
# follows the broker's event socket (never sleeps) until both workers reported a CPU share.
import time

import zmq

from cli import titan_ok
from titan_sdk import protocol
from titan_sdk.protocol import MsgType
from titan_sdk.transport import Connection

DEADLINE_S = 30


def machines_from_events(port: int, names, deadline: float):
    """The `machine` of the first heartbeat event of each worker in `names` that carries a CPU share."""
    hello = Connection("tcp://127.0.0.1:%d" % port, "is the test cluster running?")
    try:
        pub_port = hello.request(MsgType.HELLO, {"client": "test"}, 10).fields["pub_port"]
    finally:
        hello.close()
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"worker.")
    sub.connect("tcp://127.0.0.1:%d" % pub_port)
    found = {}
    try:
        while set(names) - set(found):
            left_ms = int((deadline - time.monotonic()) * 1000)
            assert left_ms > 0 and sub.poll(left_ms), "no heartbeat with a machine from %s in time" % (
                sorted(set(names) - set(found)))
            frames = sub.recv_multipart()
            event = protocol.decode(frames[1:])
            worker = event.fields["worker"]
            machine = worker.get("machine") or {}
            if event.fields["event"] == "heartbeat" and machine.get("cpu_permille") is not None:
                found.setdefault(worker["name"], machine)
    finally:
        sub.close()
    return found


def test_workers_report_cpu_memory_load_and_disk_in_sane_ranges(cluster, broker_client):
    machines = machines_from_events(cluster.port, ["w1", "w2"], time.monotonic() + DEADLINE_S)
    for name, m in machines.items():
        assert 0 <= m["cpu_permille"] <= 1000, (name, m)
        assert m["cpus"] >= 1
        assert 0 < m["mem_used_bytes"] < m["mem_total_bytes"], (name, m)
        assert m["load1_milli"] >= 0 and m["load5_milli"] >= 0 and m["load15_milli"] >= 0
        assert 0 <= m["disk_free_bytes"] <= m["disk_total_bytes"] and m["disk_total_bytes"] > 0, (name, m)
    listed = {w["name"]: w.get("machine") for w in broker_client.get_stats()["workers"]}
    assert listed["w1"]["mem_total_bytes"] == machines["w1"]["mem_total_bytes"]  # the broker keeps the latest
    shown = titan_ok(cluster.port, ["stats"])
    assert shown.count("    CPU ") == 2 and " GiB | Load " in shown, shown
