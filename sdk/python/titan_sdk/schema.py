# The message table of schemas/protocol.yaml (protocol version 1), mirrored for Python.
# tests/python/test_protocol_schema.py fails when this table and the YAML differ: edit both together.
# Fields are written "name:type" ("?" when optional), in schema order, the order encode() uses.
import enum
from typing import Dict, NamedTuple, Tuple

PROTOCOL_NAME = b"TITAN"
PROTOCOL_VERSION = 1
SIGNATURE = b"TITAN\x01"

MAX_FRAMES = 16                   # frames after the routing envelope
MAX_BODY_BYTES = 4 * 1024 * 1024  # a larger body frame is TOO_LARGE
MAX_KEY_BYTES = 1024              # TitanStore key
MAX_VALUE_BYTES = 1024 * 1024     # TitanStore value or set member
MAX_MEMBERS_REPLY = 100000        # members returned by one STORE_SMEMBERS / STORE_KEYS
MAX_CHUNK_BYTES = 1024 * 1024     # the largest ARTIFACT_CHUNK / ARTIFACT_DATA blob

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class MsgType(enum.IntEnum):
    ERROR = 0x01
    HELLO = 0x02
    WELCOME = 0x03
    STORE_PUT = 0x10
    STORE_GET = 0x11
    STORE_DELETE = 0x12
    STORE_SADD = 0x13
    STORE_SREM = 0x14
    STORE_SMEMBERS = 0x15
    STORE_INCR = 0x16
    STORE_CAS = 0x17
    STORE_KEYS = 0x18
    STORE_OK = 0x20
    STORE_VALUE = 0x21
    STORE_COUNT = 0x22
    STORE_LIST = 0x23
    STORE_INT = 0x24
    STORE_CAS_RESULT = 0x25
    OK = 0x30
    JOB_SUBMIT = 0x31
    JOB_ACCEPTED = 0x32
    JOB_GET = 0x33
    JOB_INFO = 0x34
    JOB_LIST = 0x35
    JOB_LIST_REPLY = 0x36
    JOB_LOGS = 0x37
    JOB_LOG_DATA = 0x38
    JOB_STOP = 0x39
    JOB_WAIT = 0x3A
    STATS_GET = 0x3B
    STATS = 0x3C
    WORKER_STOP = 0x3D
    WORKER_ADD = 0x3F
    GATE_DECIDE = 0x3E
    DAG_LIST = 0x40
    DAG_LIST_REPLY = 0x41
    DAG_GET = 0x42
    DAG_INFO = 0x43
    DAG_CANCEL = 0x44
    RUN_LIST = 0x45
    RUN_LIST_REPLY = 0x46
    SCHEDULE_ADD = 0x47
    SCHEDULE_LIST = 0x48
    SCHEDULE_LIST_REPLY = 0x49
    SCHEDULE_REMOVE = 0x4A
    ARTIFACT_PUT = 0x60
    ARTIFACT_UPLOAD = 0x61
    ARTIFACT_CHUNK = 0x62
    ARTIFACT_CHUNK_ACK = 0x63
    ARTIFACT_COMMIT = 0x64
    ARTIFACT_ABORT = 0x65
    ARTIFACT_STAT = 0x66
    ARTIFACT_INFO = 0x67
    ARTIFACT_READ = 0x68
    ARTIFACT_DATA = 0x69
    ARTIFACT_LIST = 0x6A
    ARTIFACT_LIST_REPLY = 0x6B
    ARTIFACT_DELETE = 0x6C
    WORKER_READY = 0x50
    WORKER_WELCOME = 0x51
    HEARTBEAT = 0x52
    JOB_ASSIGN = 0x53
    JOB_STARTED = 0x54
    JOB_LOG = 0x55
    JOB_DONE = 0x56
    JOB_ACK = 0x57
    JOB_CANCEL = 0x58
    WORKER_DRAIN = 0x59
    DISCONNECT = 0x5A
    SERVICE_STATUS = 0x5B
    WORKER_SPAWN = 0x5C
    EVENT_JOB = 0x70
    EVENT_LOG = 0x71
    EVENT_WORKER = 0x72
    EVENT_SCALE = 0x73


class ErrorCode(str, enum.Enum):
    """ERROR.code values; they travel as these strings."""

    MALFORMED = "MALFORMED"
    WRONG_VERSION = "WRONG_VERSION"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"
    TOO_LARGE = "TOO_LARGE"
    WRONG_TYPE = "WRONG_TYPE"
    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


# Scalar and container types; a struct name S (see STRUCTS) and "list<S>" are types too.
FIELD_TYPES = ("str", "bin", "value", "int", "bool", "map", "list<value>", "list<str>")


class FieldSpec(NamedTuple):
    name: str
    type: str  # spelled as in the schema: "str", "list<value>", "JobSpec", "list<JobSpec>"
    optional: bool = False


def _fields(text: str) -> Tuple[FieldSpec, ...]:
    """'key:value expected:value? ...' -> FieldSpecs in that order."""
    out = []
    for item in text.split():
        name, type_ = item.split(":")
        out.append(FieldSpec(name, type_.rstrip("?"), type_.endswith("?")))
    return tuple(out)


ENVELOPE_FIELDS = _fields("rid:int?")

STRUCTS: Dict[str, Tuple[FieldSpec, ...]] = {
    "JobSpec": _fields("id:str file:str args:str? job_type:str? port:int? priority:int? delay_ms:int? "
                       "requirement:str? affinity:bool? parents:list<str>? retries:int? timeout_ms:int? "
                       "env:list<str>? hitl_message:str? max_wait_s:int? archive:bool? health_cmd:str? "
                       "max_restarts:int? spawned_by:str?"),
    "FileBlob": _fields("name:str content:bin? sha256:str?"),
    "JobInfo": _fields("id:str state:str file:str requirement:str priority:int attempt:int parents:list<str> "
                       "worker:str? exit_code:int? reason:str? submitted_ms:int started_ms:int? finished_ms:int? "
                       "dag:str? kind:str? message:str? decided_by:str? job_type:str? port:int? restarts:int? "
                       "ready:bool? run:int? up_since_ms:int?"),
    "DagInfo": _fields("id:str name:str state:str agent_run_id:str? jobs:int done:int failed:int submitted_ms:int "
                       "finished_ms:int?"),
    "ScheduleInfo": _fields("name:str cron:str jobs:int next_ms:int last_ms:int?"),
    "WorkerInfo": _fields("name:str host:str slots:int busy:int capabilities:list<str> state:str "
                          "running:list<str> seen_ms_ago:int parent:str? port:int?"),
    "ArtifactInfo": _fields("space:str name:str sha256:str size:int created_ms:int"),
    "ScaleEvent": _fields("action:str worker:str parent:str reason:str ts_ms:int"),
    "JobRef": _fields("id:str attempt:int"),
    "JobResult": _fields("id:str attempt:int exit_code:int signal:int cancelled:bool reason:str?"),
}

_M = MsgType
MESSAGES: Dict[MsgType, Tuple[FieldSpec, ...]] = {t: _fields(text) for t, text in (
    (_M.ERROR, "code:str reason:str"),
    (_M.HELLO, "client:str?"),
    (_M.WELCOME, "node:str version:str store_port:int? store_host:str? worker_port:int? pub_port:int?"),
    (_M.STORE_PUT, "key:value value:value"),
    (_M.STORE_GET, "key:value"),
    (_M.STORE_DELETE, "key:value"),
    (_M.STORE_SADD, "key:value member:value"),
    (_M.STORE_SREM, "key:value member:value"),
    (_M.STORE_SMEMBERS, "key:value"),
    (_M.STORE_INCR, "key:value delta:int"),
    (_M.STORE_CAS, "key:value expected:value? value:value"),
    (_M.STORE_KEYS, "prefix:value limit:int"),
    (_M.STORE_OK, ""),
    (_M.STORE_VALUE, "found:bool value:value?"),
    (_M.STORE_COUNT, "count:int"),
    (_M.STORE_LIST, "items:list<value> truncated:bool"),
    (_M.STORE_INT, "value:int"),
    (_M.STORE_CAS_RESULT, "swapped:bool current:value?"),
    # client dialog
    (_M.OK, "name:str?"),
    (_M.JOB_SUBMIT, "jobs:list<JobSpec> files:list<FileBlob> dag:str? agent_run_id:str?"),
    (_M.JOB_ACCEPTED, "ids:list<str> dag:str?"),
    (_M.JOB_GET, "id:str run:int?"),
    (_M.JOB_INFO, "found:bool job:JobInfo? runs:int?"),
    (_M.JOB_LIST, "state:str? limit:int job_type:str?"),
    (_M.JOB_LIST_REPLY, "jobs:list<JobInfo> truncated:bool"),
    (_M.JOB_LOGS, "id:str offset:int max_bytes:int run:int?"),
    (_M.JOB_LOG_DATA, "id:str offset:int next_offset:int complete:bool"),
    (_M.JOB_STOP, "id:str"),
    (_M.JOB_WAIT, "id:str timeout_ms:int"),
    (_M.STATS_GET, ""),
    (_M.STATS, "workers:list<WorkerInfo> pending:int blocked:int scheduled:int queued:int running:int "
               "unsatisfiable:int completed:int failed:int scaling:list<ScaleEvent>?"),
    (_M.WORKER_STOP, "name:str"),
    (_M.WORKER_ADD, "port:int? capability:str? slots:int?"),
    (_M.GATE_DECIDE, "id:str approve:bool reason:str? by:str?"),
    (_M.DAG_LIST, "agent_run_id:str? limit:int"),
    (_M.DAG_LIST_REPLY, "dags:list<DagInfo>"),
    (_M.DAG_GET, "id:str"),
    (_M.DAG_INFO, "found:bool dag:DagInfo? jobs:list<JobInfo>"),
    (_M.DAG_CANCEL, "id:str"),
    (_M.RUN_LIST, "limit:int"),
    (_M.RUN_LIST_REPLY, "runs:list<DagInfo>"),
    (_M.SCHEDULE_ADD, "name:str cron:str jobs:list<JobSpec> files:list<FileBlob> dag:str?"),
    (_M.SCHEDULE_LIST, ""),
    (_M.SCHEDULE_LIST_REPLY, "schedules:list<ScheduleInfo>"),
    (_M.SCHEDULE_REMOVE, "name:str"),
    # artifacts
    (_M.ARTIFACT_PUT, "space:str name:str size:int sha256:str?"),
    (_M.ARTIFACT_UPLOAD, "upload:str chunk_bytes:int credit:int"),
    (_M.ARTIFACT_CHUNK, "upload:str offset:int crc32:int"),
    (_M.ARTIFACT_CHUNK_ACK, "upload:str received:int"),
    (_M.ARTIFACT_COMMIT, "upload:str"),
    (_M.ARTIFACT_ABORT, "upload:str"),
    (_M.ARTIFACT_STAT, "space:str name:str"),
    (_M.ARTIFACT_INFO, "artifact:ArtifactInfo"),
    (_M.ARTIFACT_READ, "sha256:str offset:int length:int"),
    (_M.ARTIFACT_DATA, "sha256:str offset:int size:int"),
    (_M.ARTIFACT_LIST, "space:str?"),
    (_M.ARTIFACT_LIST_REPLY, "artifacts:list<ArtifactInfo>"),
    (_M.ARTIFACT_DELETE, "space:str name:str"),
    # worker dialog
    (_M.WORKER_READY, "name:str host:str pid:int slots:int capabilities:list<str> running:list<JobRef> "
                      "finished:list<JobResult> parent:str? port:int?"),
    (_M.WORKER_WELCOME, "heartbeat_ms:int store_port:int? pub_port:int?"),
    (_M.HEARTBEAT, "busy:int? draining:bool?"),
    (_M.JOB_ASSIGN, "job:JobSpec attempt:int file_sha256:str file_size:int shared_workdir:bool? first_attempt:int?"),
    (_M.JOB_STARTED, "id:str attempt:int pid:int"),
    (_M.JOB_LOG, "id:str attempt:int seq:int stream:str"),
    (_M.JOB_DONE, "result:JobResult"),
    (_M.JOB_ACK, "id:str attempt:int"),
    (_M.JOB_CANCEL, "id:str attempt:int reason:str"),
    (_M.WORKER_DRAIN, "reason:str"),
    (_M.DISCONNECT, "reason:str"),
    (_M.SERVICE_STATUS, "id:str attempt:int ready:bool restarts:int pid:int reason:str?"),
    (_M.WORKER_SPAWN, "name:str slots:int reason:str tags:list<str>? port:int? manual:bool?"),
    # events
    (_M.EVENT_JOB, "id:str state:str attempt:int worker:str? exit_code:int? reason:str? ts_ms:int"),
    (_M.EVENT_LOG, "id:str offset:int stream:str"),
    (_M.EVENT_WORKER, "worker:WorkerInfo event:str"),
    (_M.EVENT_SCALE, "event:ScaleEvent"),
)}

# The reply each request expects (ERROR may always come instead).
REPLIES: Dict[MsgType, MsgType] = {
    _M.HELLO: _M.WELCOME,
    _M.STORE_PUT: _M.STORE_OK,
    _M.STORE_GET: _M.STORE_VALUE,
    _M.STORE_DELETE: _M.STORE_COUNT,
    _M.STORE_SADD: _M.STORE_COUNT,
    _M.STORE_SREM: _M.STORE_COUNT,
    _M.STORE_SMEMBERS: _M.STORE_LIST,
    _M.STORE_INCR: _M.STORE_INT,
    _M.STORE_CAS: _M.STORE_CAS_RESULT,
    _M.STORE_KEYS: _M.STORE_LIST,
    _M.JOB_SUBMIT: _M.JOB_ACCEPTED,
    _M.JOB_GET: _M.JOB_INFO,
    _M.JOB_LIST: _M.JOB_LIST_REPLY,
    _M.JOB_LOGS: _M.JOB_LOG_DATA,
    _M.JOB_STOP: _M.JOB_INFO,
    _M.JOB_WAIT: _M.JOB_INFO,
    _M.STATS_GET: _M.STATS,
    _M.WORKER_STOP: _M.OK,
    _M.WORKER_ADD: _M.OK,
    _M.GATE_DECIDE: _M.JOB_INFO,
    _M.DAG_LIST: _M.DAG_LIST_REPLY,
    _M.DAG_GET: _M.DAG_INFO,
    _M.DAG_CANCEL: _M.DAG_INFO,
    _M.RUN_LIST: _M.RUN_LIST_REPLY,
    _M.SCHEDULE_ADD: _M.OK,
    _M.SCHEDULE_LIST: _M.SCHEDULE_LIST_REPLY,
    _M.SCHEDULE_REMOVE: _M.OK,
    _M.ARTIFACT_PUT: _M.ARTIFACT_UPLOAD,
    _M.ARTIFACT_CHUNK: _M.ARTIFACT_CHUNK_ACK,
    _M.ARTIFACT_COMMIT: _M.ARTIFACT_INFO,
    _M.ARTIFACT_ABORT: _M.OK,
    _M.ARTIFACT_STAT: _M.ARTIFACT_INFO,
    _M.ARTIFACT_READ: _M.ARTIFACT_DATA,
    _M.ARTIFACT_LIST: _M.ARTIFACT_LIST_REPLY,
    _M.ARTIFACT_DELETE: _M.OK,
    _M.WORKER_READY: _M.WORKER_WELCOME,
    _M.JOB_DONE: _M.JOB_ACK,
}
