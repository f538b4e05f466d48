# The pure parts: the log-size search, throughput buckets, queue depths, the workers table, the DAG graph, a
# gate's time left and the broker's read-only mode.
from titan_dashboard import logtail, views


def reader_of(data: bytes):
    return lambda offset, n: (data[offset:offset + n], min(len(data), offset + n), True)


def test_log_end_finds_the_size_of_any_log():
    for size in (0, 1, 2, 3, 1000, 65536, 65537, 1 << 20):
        assert logtail.log_end(reader_of(b"x" * size)) == size


def test_throughput_counts_jobs_finished_per_minute_of_the_last_hour():
    now = 10 * 3600 * 1000
    jobs = [{"finished_ms": now - 30_000}, {"finished_ms": now - 59_000}, {"finished_ms": now - 61_000},
            {"finished_ms": now - 3601_000}, {"finished_ms": None}]
    counts = views.throughput(jobs, now)
    assert len(counts) == 60 and counts[-1] == 2 and counts[-2] == 1 and sum(counts) == 3


def test_queue_depths_and_lost_workers():
    assert views.queue_depths([{"requirement": "GPU"}, {"requirement": "GENERAL"}, {"requirement": "GPU"}]) == \
        {"GENERAL": 1, "GPU": 2}
    stats = {"workers": [{"name": "w2", "state": "READY"}, {"name": "w1", "state": "DRAINING"}]}
    lost = {"w3": {"name": "w3", "state": "READY", "busy": 2}, "w1": {"name": "w1"}}
    assert [(w["name"], w["state"]) for w in views.workers_view(stats, lost)] == \
        [("w1", "DRAINING"), ("w2", "READY"), ("w3", "LOST")]


def test_dag_graph_keeps_edges_inside_the_dag():
    dag = {"id": "d", "state": "RUNNING", "jobs": [
        {"id": "a", "state": "COMPLETED", "parents": ["outside"]}, {"id": "b", "state": "RUNNING", "parents": ["a"]}]}
    graph = views.dag_graph(dag, 0)
    assert graph["edges"] == [{"source": "a", "target": "b"}] and graph["dag"]["jobs"] == 2


def test_a_waiting_gate_gets_its_time_left_at_the_servers_now():
    now = 1_700_000_000_000
    gates = [{"id": "hitl-gate-b", "kind": "GATE", "state": "WAITING_APPROVAL", "expires_ms": now + 90_000,
              "started_ms": now - 5, "submitted_ms": 1},
             {"id": "hitl-gate-a", "kind": "GATE", "state": "WAITING_APPROVAL", "expires_ms": now - 1_000,
              "started_ms": now - 9, "submitted_ms": 1},
             {"id": "hitl-gate-c", "kind": "GATE", "state": "COMPLETED", "expires_ms": now + 5, "submitted_ms": 1}]
    assert [(g["id"], g["expires_in_ms"]) for g in views.pending_gates(gates, now)] == \
        [("hitl-gate-a", -1_000), ("hitl-gate-b", 90_000)]  # oldest first; a decided gate is not listed
    graph = views.dag_graph({"id": "d", "jobs": gates + [{"id": "j", "state": "RUNNING"}]}, now)
    assert {n["id"]: n.get("expires_in_ms") for n in graph["nodes"]} == \
        {"hitl-gate-b": 90_000, "hitl-gate-a": -1_000, "hitl-gate-c": None, "j": None}


def test_the_brokers_read_only_mode_comes_from_its_stats():
    assert views.read_only_state({"workers": [], "queued": 0}) is None
    assert views.read_only_state({"read_only": False}) is None
    stats = {"read_only": True, "read_only_since_ms": 1_700_000_000_000,
             "read_only_reason": "disk full on the broker (/d/broker); free space there, Titan resumes by itself"}
    assert views.read_only_state(stats) == {
        "reason": "disk full on the broker (/d/broker); free space there, Titan resumes by itself",
        "since_ms": 1_700_000_000_000}


def test_a_workers_machine_is_shown_in_percent_mib_and_load_and_a_lost_worker_has_none():
    machine = {"cpu_permille": 423, "cpus": 8, "mem_used_bytes": 3 << 30, "mem_total_bytes": 16 << 30,
               "load1_milli": 1520, "disk_free_bytes": 120 << 30,
               "gpus": [{"index": 0, "name": "A100", "util_pct": 87, "mem_used_bytes": 30 << 30,
                         "mem_total_bytes": 40 << 30}]}
    stats = {"workers": [{"name": "w1", "state": "READY", "machine": machine}, {"name": "w2", "state": "READY"}]}
    w1, w2, w3 = views.workers_view(stats, {"w3": {"name": "w3", "machine": machine}})
    m = w1["metrics"]
    assert (m["cpu_percent"], m["cpus"], m["mem_used_mb"], m["mem_total_mb"], m["load1"], m["disk_free_mb"]) == \
        (42.3, 8, 3072, 16384, 1.52, 120 * 1024)
    assert m["disk_total_mb"] is None and m["gpus"][0]["util_percent"] == 87
    assert w2["metrics"] is None and w3["metrics"] is None  # none reported; lost: its last report is stale


def test_a_jobs_limits_and_usage_are_written_for_its_page():
    row = views.job_row({"id": "a", "max_memory": 64, "max_cpu": 150, "cpu_cores": "0-1", "max_iobps": 1048576,
                         "max_processes": 100, "usage": {"peak_memory_bytes": 64 << 20, "cpu_ms": 1250,
                                                         "io_read_bytes": 512, "io_write_bytes": 4096}})
    assert row["limits_text"] == "memory 64 MB, cpu 150% of a core, cores 0-1, io 1048576 B/s, processes 100"
    assert row["usage_text"] == "peak memory 64.0 MiB, cpu 1.25 s, read 512 B, written 4.0 KiB"
    plain = views.job_row({"id": "b", "usage": None})
    assert (plain["limits_text"], plain["usage_text"]) == ("", "")
