"""Writes vectors.yaml: golden byte vectors for the Titan wire protocol.

The bytes are produced here with Python's msgpack, independently of both codecs under test; the C++
suite (schemas/cpp/golden_test.cc) and the Python suite (tests/python/test_golden.py) decode every
vector and, for valid ones, re-encode the expected fields and compare the bytes exactly. Every message
type of schemas/protocol.yaml has at least one valid vector (this script refuses to write the file
otherwise); the fields of each are put in schema order, the canonical encoding order.

Run from anywhere: python make_vectors.py  (needs msgpack and PyYAML).
"""
import os

import msgpack
import yaml

SIG = b"TITAN\x01"
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "protocol.yaml"), encoding="utf-8") as _f:
    SCHEMA = yaml.safe_load(_f)


def canonical(fields, spec):
    """`fields` in the order of `spec` (a schema field map), nested structs too; unknown names last."""
    def value(v, type_):
        base = type_[5:-1] if type_.startswith("list<") else type_
        if base not in SCHEMA["structs"]:
            return v
        return [canonical(e, SCHEMA["structs"][base]) for e in v] if type_ != base else canonical(v, SCHEMA["structs"][base])
    spec = spec or {}
    ordered = {k: value(fields[k], spec[k]["type"]) for k in spec if k in fields}
    ordered.update({k: v for k, v in fields.items() if k not in spec})
    return ordered


def body(fields):
    return msgpack.packb(fields, use_bin_type=True)


def frames(code, fields, *blobs):
    return [SIG, bytes([code]), body(fields), *blobs]


def show(value):
    """The YAML form of an expected field value: str/bin tagged, the rest plain."""
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, list):
        return [show(v) for v in value]
    return value


def show_fields(fields):
    return {k: show_fields(v) if isinstance(v, dict) else
            [show_fields(e) if isinstance(e, dict) else show(e) for e in v] if isinstance(v, list) else show(v)
            for k, v in fields.items()}


def ok(name, type_name, code, fields, blobs=()):
    assert SCHEMA["messages"][type_name]["code"] == code, name
    fields = canonical(fields, SCHEMA["messages"][type_name]["fields"])
    vector = {"name": name, "frames": [f.hex() for f in frames(code, fields, *blobs)], "expect": "ok",
              "type": type_name, "fields": show_fields(fields)}
    if blobs:
        vector["blobs"] = [b.hex() for b in blobs]
    return vector


def bad(name, raw_frames, expect):
    return {"name": name, "frames": [f.hex() for f in raw_frames], "expect": expect}


VALID = [
    ok("error", "ERROR", 0x01, {"code": "TOO_LARGE", "reason": "value of 1048577 bytes; the limit is 1048576"}),
    ok("error_not_leader", "ERROR", 0x01, {"code": "NOT_LEADER", "reason": "this broker is a standby",
                                           "leader": "10.0.0.7:9090"}),
    ok("hello_empty", "HELLO", 0x02, {}),
    ok("hello_named", "HELLO", 0x02, {"client": "sdk-py"}),
    ok("welcome_store", "WELCOME", 0x03, {"node": "store", "version": "0.1.0"}),
    ok("welcome_broker", "WELCOME", 0x03, {"node": "broker", "version": "0.1.0", "store_port": 9091}),
    ok("audit_list", "AUDIT_LIST", 0x04, {"since_ms": 1795000000000, "principal": "alice", "limit": 100}),
    ok("audit_list_all", "AUDIT_LIST", 0x04, {}),
    ok("audit_list_reply", "AUDIT_LIST_REPLY", 0x05, {"entries": [
        {"seq": 7, "ts_ms": 1795000000001, "principal": "alice", "action": "JOB_SUBMIT", "target": "train",
         "outcome": "ok"},
        {"seq": 8, "ts_ms": 1795000000002, "principal": "reader-1", "action": "JOB_STOP", "target": "train",
         "outcome": "FORBIDDEN"}], "truncated": True}),
    ok("metrics_get", "METRICS_GET", 0x06, {}),
    ok("metrics", "METRICS", 0x07, {"node": "broker", "families": [
        {"name": "titan_jobs_finished_total", "type": "counter", "help": "Jobs that reached a final state.",
         "labels": ["outcome", "capability"], "samples": [{"labels": ["failed", "GPU"], "value": 2}]},
        {"name": "titan_slots", "type": "gauge", "help": "Job slots.", "labels": [], "samples": [{"labels": [],
                                                                                                 "value": 8}]},
        {"name": "titan_job_run_seconds", "type": "histogram", "help": "An attempt's run time.",
         "labels": ["capability"], "scale": 1000, "samples": [
             {"labels": ["GENERAL"], "value": 1750, "count": 3,
              "buckets": [{"le": 500, "count": 1}, {"le": 1000, "count": 2}]}]}]}),
    ok("store_put_text", "STORE_PUT", 0x10, {"key": "task_123_accuracy", "value": "98.5"}),
    ok("store_put_binary", "STORE_PUT", 0x10, {"key": b"\x00\xffk", "value": bytes(range(256))}),
    ok("store_put_unicode", "STORE_PUT", 0x10, {"key": "ключ", "value": "值 ✓ — ünïcødé 🚀"}),
    ok("store_put_empty_value", "STORE_PUT", 0x10, {"key": "e", "value": ""}),
    ok("store_put_with_rid", "STORE_PUT", 0x10, {"key": "k", "value": "v", "rid": 4294967296}),
    ok("store_get", "STORE_GET", 0x11, {"key": "agent_retry_count"}),
    ok("store_delete", "STORE_DELETE", 0x12, {"key": "k"}),
    ok("store_sadd", "STORE_SADD", 0x13, {"key": "processed_files", "member": "batch_A.csv"}),
    ok("store_srem", "STORE_SREM", 0x14, {"key": "processed_files", "member": b"\x01"}),
    ok("store_smembers", "STORE_SMEMBERS", 0x15, {"key": "processed_files"}),
    ok("store_incr_negative", "STORE_INCR", 0x16, {"key": "n", "delta": -129}),
    ok("store_cas_absent", "STORE_CAS", 0x17, {"key": "lock", "value": "owner-1"}),
    ok("store_cas", "STORE_CAS", 0x17, {"key": "n", "expected": "1", "value": "2"}),
    ok("store_keys", "STORE_KEYS", 0x18, {"prefix": "run:", "limit": 1000}),
    ok("store_ok", "STORE_OK", 0x20, {}),
    ok("store_value_found", "STORE_VALUE", 0x21, {"found": True, "value": "98.5"}),
    ok("store_value_missing", "STORE_VALUE", 0x21, {"found": False}),
    ok("store_count", "STORE_COUNT", 0x22, {"count": 1}),
    ok("store_list", "STORE_LIST", 0x23, {"items": ["batch_A.csv", b"\x00\x01"], "truncated": False}),
    ok("store_int_big", "STORE_INT", 0x24, {"value": -9223372036854775808}),
    ok("store_cas_result", "STORE_CAS_RESULT", 0x25, {"swapped": False, "current": "1"}),
    ok("ok", "OK", 0x30, {}),
    ok("job_submit", "JOB_SUBMIT", 0x31, {
        "jobs": [{"id": "extract_data", "file": "extract.py", "priority": 5},
                 {"id": "train_model", "file": "train.py", "requirement": "GPU", "parents": ["extract_data"],
                  "env": ["MODE=fast"]}],
        "files": [{"name": "extract.py", "content": b"print('x')\n"}, {"name": "train.py", "content": b""}],
        "dag": "nightly_pipeline"}),
    ok("job_submit_by_hash", "JOB_SUBMIT", 0x31, {
        "jobs": [{"id": "again", "file": "extract.py"}],
        "files": [{"name": "extract.py", "sha256": "cd" * 32}]}),
    ok("job_info_missing", "JOB_INFO", 0x34, {"found": False}),
    ok("job_info", "JOB_INFO", 0x34, {"found": True, "job": {
        "id": "a", "state": "COMPLETED", "file": "a.py", "requirement": "GENERAL", "priority": 1, "attempt": 1,
        "parents": [], "worker": "w1", "exit_code": 0, "submitted_ms": 1795000000000,
        "started_ms": 1795000000001, "finished_ms": 1795000000042}}),
    ok("job_log_data", "JOB_LOG_DATA", 0x38, {"id": "a", "offset": 0, "next_offset": 6, "complete": True},
       blobs=[b"hello\n"]),
    ok("worker_ready", "WORKER_READY", 0x50, {
        "name": "w1", "host": "node-a", "pid": 4242, "slots": 4, "capabilities": ["GENERAL", "GPU"],
        "running": [{"id": "a", "attempt": 1}],
        "finished": [{"id": "b", "attempt": 2, "exit_code": -1, "signal": 9, "cancelled": True}]}),
    ok("job_done", "JOB_DONE", 0x56, {"result": {"id": "a", "attempt": 1, "exit_code": 3, "signal": 0,
                                                 "cancelled": False, "reason": "exit 3"}}),
    ok("job_assign", "JOB_ASSIGN", 0x53, {
        "job": {"id": "app", "file": "proj.zip/src/main.py", "args": "--n 3", "archive": True},
        "attempt": 1, "file_sha256": "ab" * 32, "file_size": 2048}),
    ok("service_status", "SERVICE_STATUS", 0x5b, {"id": "api", "attempt": 1, "ready": False, "restarts": 2,
                                                  "pid": 777, "reason": "exited with code 1; restarting in 400 ms"}),
    ok("artifact_put", "ARTIFACT_PUT", 0x60, {"space": "uploads", "name": "data/report.md", "size": 3 << 30,
                                              "sha256": "0f" * 32}),
    ok("artifact_chunk", "ARTIFACT_CHUNK", 0x62, {"upload": "u7", "offset": 1048576, "crc32": 3632233996},
       blobs=[bytes(range(256)) * 4]),
    ok("artifact_info", "ARTIFACT_INFO", 0x67, {"artifact": {
        "space": "perm_files", "name": "proj.zip", "sha256": "cd" * 32, "size": 123, "created_ms": 1795000000000}}),
    ok("artifact_data_empty", "ARTIFACT_DATA", 0x69, {"sha256": "cd" * 32, "offset": 123, "size": 123},
       blobs=[b""]),
    ok("event_scale", "EVENT_SCALE", 0x73, {"event": {"action": "spawn", "worker": "w1-child-1", "parent": "w1",
                                                      "reason": "3 jobs waited over 2000 ms", "ts_ms": 1795000000001}}),
    ok("event_job", "EVENT_JOB", 0x70, {"id": "a", "state": "RUNNING", "attempt": 1, "worker": "w1",
                                        "ts_ms": 1795000000001}),
]

JOB = {"id": "train", "state": "RUNNING", "file": "train.py", "requirement": "GPU", "priority": 5, "attempt": 1,
       "parents": ["extract"], "worker": "w1", "submitted_ms": 1795000000000, "started_ms": 1795000000100,
       "dag": "nightly", "run": 2}
SERVICE = {"id": "api", "state": "RUNNING", "file": "api.py", "requirement": "GENERAL", "priority": 1, "attempt": 1,
           "parents": [], "worker": "w2", "submitted_ms": 1795000000000, "job_type": "SERVICE", "port": 8080,
           "restarts": 1, "ready": True, "up_since_ms": 1795000000500}
GATE = {"id": "hitl-gate-train", "state": "WAITING_APPROVAL", "file": "", "requirement": "GENERAL", "priority": 1,
        "attempt": 0, "parents": ["train"], "reason": "waiting for a decision", "submitted_ms": 1795000000000,
        "dag": "nightly", "kind": "GATE", "message": "Deploy the model?"}
DAG = {"id": "nightly#2", "name": "nightly", "state": "RUNNING", "agent_run_id": "run-7", "jobs": 3, "done": 1,
       "failed": 0, "submitted_ms": 1795000000000}
WORKER = {"name": "w1", "host": "node-a", "slots": 4, "busy": 1, "capabilities": ["GENERAL", "GPU"], "state": "READY",
          "running": ["train"], "seen_ms_ago": 250, "port": 5001}
ARTIFACT = {"space": "uploads", "name": "data/report.md", "sha256": "0f" * 32, "size": 5, "created_ms": 1795000000000}
SPEC = {"id": "train", "file": "train.py", "args": "--epochs 3", "priority": 5, "requirement": "GPU",
        "parents": ["extract"], "retries": 2, "timeout_ms": 600000, "env": ["MODE=fast"],
        "hitl_message": "Deploy the model?", "max_wait_s": 3600}

# One valid vector (at least) for every message of the client dialog, the worker dialog and the events.
BROKER = [
    ok("job_accepted", "JOB_ACCEPTED", 0x32, {"ids": ["extract", "train", "hitl-gate-train"], "dag": "nightly#2"}),
    ok("job_accepted_at", "JOB_ACCEPTED", 0x32, {"ids": ["extract"], "dag": "DAG-7", "submitted_ms": 1765000000123}),
    ok("job_get", "JOB_GET", 0x33, {"id": "train", "run": 1}),
    ok("job_get_service", "JOB_INFO", 0x34, {"found": True, "job": SERVICE, "runs": 1}),
    ok("job_list", "JOB_LIST", 0x35, {"state": "RUNNING", "limit": 50, "job_type": "SERVICE"}),
    ok("job_list_page", "JOB_LIST", 0x35, {"limit": 100, "before_seq": 90001, "dag": "etl", "worker": "w1",
                                           "requirement": "GPU", "id_contains": "train",
                                           "submitted_since_ms": 1700000000000, "submitted_until_ms": 1700000600000}),
    ok("job_list_reply", "JOB_LIST_REPLY", 0x36, {"jobs": [JOB, GATE], "truncated": False}),
    ok("job_list_reply_page", "JOB_LIST_REPLY", 0x36, {"jobs": [JOB], "truncated": True, "next_before_seq": 89901}),
    ok("job_logs", "JOB_LOGS", 0x37, {"id": "train", "offset": 4096, "max_bytes": 65536, "run": 2}),
    ok("job_stop", "JOB_STOP", 0x39, {"id": "train"}),
    ok("job_wait", "JOB_WAIT", 0x3a, {"id": "train", "timeout_ms": 30000, "rid": 12}),
    ok("stats_get", "STATS_GET", 0x3b, {}),
    ok("stats", "STATS", 0x3c, {"workers": [WORKER], "pending": 0, "blocked": 1, "scheduled": 0, "queued": 2,
                                "running": 1, "unsatisfiable": 0, "completed": 40, "failed": 3,
                                "scaling": [{"action": "retire", "worker": "w1-child-1", "parent": "w1",
                                             "reason": "idle for 60000 ms", "ts_ms": 1795000000002}]}),
    ok("worker_stop", "WORKER_STOP", 0x3d, {"name": "w2"}),
    ok("worker_add", "WORKER_ADD", 0x3f, {"port": 5002, "capability": "GPU", "slots": 2}),
    ok("ok_named", "OK", 0x30, {"name": "worker-5002"}),
    ok("gate_decide", "GATE_DECIDE", 0x3e, {"id": "hitl-gate-train", "approve": False, "reason": "loss too high",
                                            "by": "ana"}),
    ok("dag_list", "DAG_LIST", 0x40, {"agent_run_id": "run-7", "limit": 20}),
    ok("dag_list_reply", "DAG_LIST_REPLY", 0x41, {"dags": [DAG]}),
    ok("dag_get", "DAG_GET", 0x42, {"id": "nightly#2"}),
    ok("dag_info", "DAG_INFO", 0x43, {"found": True, "dag": DAG, "jobs": [JOB, GATE]}),
    ok("dag_info_missing", "DAG_INFO", 0x43, {"found": False, "jobs": []}),
    ok("dag_cancel", "DAG_CANCEL", 0x44, {"id": "nightly#2"}),
    ok("run_list", "RUN_LIST", 0x45, {"limit": 10}),
    ok("run_list_reply", "RUN_LIST_REPLY", 0x46, {"runs": [dict(DAG, id="run-7", name="run-7")]}),
    ok("schedule_add", "SCHEDULE_ADD", 0x47, {"name": "nightly", "cron": "0 2 * * *", "jobs": [SPEC],
                                              "files": [{"name": "train.py", "sha256": "ab" * 32}],
                                              "dag": "nightly"}),
    ok("schedule_list", "SCHEDULE_LIST", 0x48, {}),
    ok("schedule_list_reply", "SCHEDULE_LIST_REPLY", 0x49, {"schedules": [
        {"name": "nightly", "cron": "0 2 * * *", "jobs": 1, "next_ms": 1795046400000, "last_ms": 1794960000000}]}),
    ok("schedule_remove", "SCHEDULE_REMOVE", 0x4a, {"name": "nightly"}),
    ok("schedule_enable", "SCHEDULE_ENABLE", 0x4b, {"name": "nightly", "enabled": False}),
    ok("dag_rerun", "DAG_RERUN", 0x4c, {"id": "nightly#2"}),
    ok("service_restart", "SERVICE_RESTART", 0x4d, {"id": "api", "rid": 12}),
    ok("job_delete", "JOB_DELETE", 0x6f, {"id": "report-1", "rid": 13}),
    ok("volume_create", "VOLUME_CREATE", 0x4e, {"name": "data", "size": "1GB", "type": "memory", "worker": "w1",
                                                "rid": 4}),
    ok("volume_list", "VOLUME_LIST", 0x4f, {}),
    ok("volume_list_reply", "VOLUME_LIST_REPLY", 0x6d, {"volumes": [
        {"name": "data", "worker": "w1", "size": "1GB", "size_bytes": 1 << 30, "type": "memory",
         "path": "/srv/titan/worker/volumes/data", "created_ms": 1700000000000, "jobs": ["etl"]},
        {"name": "scratch", "worker": "w2", "type": "filesystem", "created_ms": 1700000000001}]}),
    ok("volume_remove", "VOLUME_REMOVE", 0x6e, {"name": "data"}),
    ok("artifact_upload", "ARTIFACT_UPLOAD", 0x61, {"upload": "u7", "chunk_bytes": 1048576, "credit": 8}),
    ok("artifact_chunk_ack", "ARTIFACT_CHUNK_ACK", 0x63, {"upload": "u7", "received": 2097152, "rid": 3}),
    ok("artifact_commit", "ARTIFACT_COMMIT", 0x64, {"upload": "u7"}),
    ok("artifact_abort", "ARTIFACT_ABORT", 0x65, {"upload": "u7"}),
    ok("artifact_stat", "ARTIFACT_STAT", 0x66, {"space": "perm_files", "name": "proj.zip"}),
    ok("artifact_read", "ARTIFACT_READ", 0x68, {"sha256": "cd" * 32, "offset": 0, "length": 1048576, "rid": 9}),
    ok("artifact_list_all", "ARTIFACT_LIST", 0x6a, {}),
    ok("artifact_list_reply", "ARTIFACT_LIST_REPLY", 0x6b, {"artifacts": [ARTIFACT]}),
    ok("artifact_delete", "ARTIFACT_DELETE", 0x6c, {"space": "uploads", "name": "data/report.md"}),
    ok("worker_welcome", "WORKER_WELCOME", 0x51, {"heartbeat_ms": 1000, "store_port": 9091, "pub_port": 9093}),
    ok("heartbeat_worker", "HEARTBEAT", 0x52, {"busy": 3, "draining": False}),
    ok("heartbeat_broker", "HEARTBEAT", 0x52, {}),
    ok("heartbeat_machine", "HEARTBEAT", 0x52, {"busy": 1, "machine": {
        "cpu_permille": 423, "cpus": 8, "mem_used_bytes": 3 << 30, "mem_total_bytes": 16 << 30, "load1_milli": 1520,
        "load5_milli": 980, "load15_milli": 410, "disk_free_bytes": 120 << 30, "disk_total_bytes": 500 << 30,
        "gpus": [{"index": 0, "name": "NVIDIA A100", "util_pct": 87, "mem_used_bytes": 30 << 30,
                  "mem_total_bytes": 40 << 30}]}}),
    ok("job_started", "JOB_STARTED", 0x54, {"id": "train", "attempt": 3, "pid": 31337}),
    ok("job_log", "JOB_LOG", 0x55, {"id": "train", "attempt": 3, "seq": 0, "stream": "stderr"},
       blobs=[b"epoch 1/3\n"]),
    ok("job_ack", "JOB_ACK", 0x57, {"id": "train", "attempt": 3}),
    ok("job_ack_batched", "JOB_ACK", 0x57, {"id": "train", "attempt": 3,
                                            "more": [{"id": "eval", "attempt": 1}, {"id": "export", "attempt": 2}]}),
    ok("job_cancel", "JOB_CANCEL", 0x58, {"id": "train", "attempt": 3, "reason": "timeout after 600000 ms"}),
    ok("worker_drain", "WORKER_DRAIN", 0x59, {"reason": "idle for 60000 ms"}),
    ok("disconnect", "DISCONNECT", 0x5a, {"reason": "unknown worker; send WORKER_READY"}),
    ok("worker_spawn", "WORKER_SPAWN", 0x5c, {"name": "worker-5002", "slots": 2, "reason": "WORKER_ADD by ana",
                                              "tags": ["GPU"], "port": 5002, "manual": True}),
    ok("volume_ensure", "VOLUME_ENSURE", 0x5e, {"volumes": [{"name": "data", "type": "memory", "size_bytes": 1 << 30},
                                                            {"name": "scratch", "type": "filesystem"}]}),
    ok("volume_delete", "VOLUME_DELETE", 0x5f, {"name": "data"}),
    ok("service_respawn", "SERVICE_RESPAWN", 0x5d, {"id": "api", "attempt": 2, "reason": "restart requested by ana"}),
    ok("event_log", "EVENT_LOG", 0x71, {"id": "train", "offset": 4096, "stream": "stdout"}, blobs=[b"ok\n"]),
    ok("event_worker", "EVENT_WORKER", 0x72, {"worker": WORKER, "event": "joined"}),
    ok("job_assign_dag", "JOB_ASSIGN", 0x53, {"job": SPEC, "attempt": 3, "file_sha256": "ab" * 32, "file_size": 812,
                                              "shared_workdir": True, "first_attempt": 2}),
    ok("job_submit_token", "JOB_SUBMIT", 0x31, {
        "jobs": [{"id": "again", "file": "extract.py"}],
        "files": [{"name": "extract.py", "sha256": "cd" * 32}], "token": "3f9c2a61-5b0e-4d7a-9c1e-7a4b2d0e8f11"}),
    ok("dag_rerun_token", "DAG_RERUN", 0x4c, {"id": "nightly#2", "token": "rerun-7"}),
    ok("job_assign_epoch", "JOB_ASSIGN", 0x53, {"job": {"id": "a", "file": "a.py"}, "attempt": 1,
                                                "file_sha256": "ab" * 32, "file_size": 10, "epoch": 7}),
    ok("job_done_epoch", "JOB_DONE", 0x56, {"result": {"id": "a", "attempt": 1, "exit_code": 0, "signal": 0,
                                                       "cancelled": False, "epoch": 7}}),
    ok("worker_ready_epoch", "WORKER_READY", 0x50, {
        "name": "w1", "host": "node-a", "pid": 4242, "slots": 4, "capabilities": ["GENERAL"],
        "running": [{"id": "a", "attempt": 1, "epoch": 6}], "finished": []}),
    ok("job_submit_each", "JOB_SUBMIT", 0x31, {
        "jobs": [{"id": "t1", "file": "", "command": "/bin/true"}, {"id": "t2", "file": "step.sh"}],
        "files": [{"name": "step.sh", "sha256": "cd" * 32}], "token": "5d1e8a42-0c7b", "each": True}),
    ok("job_accepted_each", "JOB_ACCEPTED", 0x32, {
        "ids": ["t1"], "submitted_ms": 1765000000123,
        "each": [{"ids": ["t1"], "dag": "t1"}, {"error": "INVALID", "reason": "job id 't2' is in use"}]}),
]

INVALID = [
    bad("too_few_frames", [SIG, bytes([0x11])], "MALFORMED"),
    bad("not_titan", [b"HTTP/1", bytes([0x11]), body({"key": "k"})], "MALFORMED"),
    bad("wrong_version", [b"TITAN\x02", bytes([0x11]), body({"key": "k"})], "WRONG_VERSION"),
    bad("unknown_type", [SIG, bytes([0x7f]), body({"key": "k"})], "UNKNOWN_TYPE"),
    bad("type_frame_two_bytes", [SIG, b"\x11\x00", body({"key": "k"})], "MALFORMED"),
    bad("truncated_body", [SIG, bytes([0x10]), body({"key": "k", "value": "vvvv"})[:-2]], "MALFORMED"),
    bad("trailing_bytes", [SIG, bytes([0x11]), body({"key": "k"}) + b"\xc0"], "MALFORMED"),
    bad("body_not_map", [SIG, bytes([0x11]), msgpack.packb(["k"])], "MALFORMED"),
    bad("missing_field", [SIG, bytes([0x10]), body({"key": "k"})], "MALFORMED"),
    bad("wrong_field_type", [SIG, bytes([0x16]), body({"key": "k", "delta": "1"})], "MALFORMED"),
    bad("invalid_utf8_str", [SIG, bytes([0x11]), b"\x81\xa3key\xa2\xc3\x28"], "MALFORMED"),
    bad("garbage_body", [SIG, bytes([0x11]), b"\xc1\xc1\xc1"], "MALFORMED"),
    bad("non_string_map_key", [SIG, bytes([0x11]), msgpack.packb({1: "k"})], "MALFORMED"),
    bad("int_above_int64", [SIG, bytes([0x16]), body({"key": "k", "delta": 2**63})], "MALFORMED"),
    bad("struct_field_wrong_type", [SIG, bytes([0x31]), body({"jobs": [{"id": "a", "file": 7}], "files": []})],
        "MALFORMED"),
    bad("struct_missing_field", [SIG, bytes([0x56]), body({"result": {"id": "a"}})], "MALFORMED"),
]


def main():
    covered = {v["type"] for v in VALID + BROKER}
    missing = [name for name in SCHEMA["messages"] if name not in covered]
    if missing:
        raise SystemExit("make_vectors.py: no valid vector for %s; add one" % ", ".join(missing))
    doc = {"signature_hex": SIG.hex(), "vectors": VALID + BROKER + INVALID}
    with open(os.path.join(HERE, "vectors.yaml"), "w", encoding="utf-8") as f:
        f.write("# Generated by make_vectors.py; do not edit by hand.\n")
        yaml.safe_dump(doc, f, allow_unicode=True, sort_keys=False, width=1000)


if __name__ == "__main__":
    main()
