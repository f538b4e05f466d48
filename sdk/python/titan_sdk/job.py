# TitanJob (a unit of work, with every constructor parameter of the SDK reference, seed 001, plus
# retries/timeout/env) and JobInfo (a job as the broker reports it: the generated messages.JobInfo).
# The wire format is built in submission.py and read in client.py.
import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from . import messages
from .errors import JobFileNotFoundError

# Every job state the broker reports, in lifecycle order, and the ones a job never leaves.
JOB_STATES = ("PENDING", "BLOCKED", "SCHEDULED", "QUEUED", "RUNNING", "WAITING_APPROVAL", "COMPLETED", "FAILED",
              "CANCELLED", "DEAD", "SKIPPED")
FINAL_STATES = frozenset(("COMPLETED", "FAILED", "CANCELLED", "DEAD", "SKIPPED"))

Env = Union[Mapping[str, Any], Sequence[str]]


class TitanJob:
    """A job to run: `job_id` (alias `id`) and `filename` are required, the rest have the seed's defaults.

    `filename` is a path on this machine (absolute, or relative to the current directory); the SDK
    sends the file's bytes with the submission and the worker runs it by extension (.py, .sh, .jar,
    or an executable). A filename that does not exist here names a script deployed with
    client.deploy_script() (by its basename). With `is_archive=True`, `filename` is
    "<project>.zip/<entry>" (e.g. "proj.zip/src/main.py"): the worker unpacks the project and runs the
    entry inside it; a local proj.zip is uploaded first, else it must have been deployed with
    client.upload_project_folder(). `delay` is in MILLISECONDS, as in the original Titan's SDK (YAML `delay:` is
    seconds; see docs/operations.md, "Units"). A `filename` that is an absolute path to nothing raises
    JobFileNotFoundError (a FileNotFoundError) here; a relative name that is not a local file may name a
    deployed script and is checked at submit. `job_type` "RUN_PAYLOAD" (also the original's "TASK") runs
    once, "SERVICE" keeps it running; a service gets its `port` as PORT in its environment and in place of
    "{port}" in its args. `hitl_message` makes the broker put a
    human approval gate "hitl-gate-<job_id>" after this job: its children wait until someone calls
    approve() (or reject()), and the gate fails after `max_wait_seconds` without a decision. Beyond
    the seed's parameters, the keyword-only `retries` (extra attempts after a failed run), `timeout`
    (seconds a run may take before it is killed and failed; None: no limit), `env` (a dict, or
    "NAME=value" strings, added to the job's environment) and `secret_env` (Joblet's
    `secret_environment` is the same): environment entries that are secret. The broker seals them at rest,
    sends them only to the worker that runs the job, reports them as NAME=****, and the worker masks each
    exact occurrence of a value in the job's output. `on_worker_lost` is "requeue" (the default: a run
    whose worker is lost, or killed by it out of contact with the broker, runs again elsewhere) or "fail"
    for a job that must never run twice: it ends FAILED ("worker lost; not retried by request").
    `content` (str, sent as UTF-8, or bytes) is the script itself: it travels with the submission under the
    basename of `filename`, which names it for the worker (its extension picks the interpreter), and no file
    is read; for scripts a program writes, e.g. TitanJob("hi", "hi.py", content="print('hi')").
    Resource limits, Joblet's names (docs/job-control.md, "Limits"), enforced by the worker: `max_memory`
    (MB for all its processes together; over it the job ends FAILED "killed: memory limit N MB exceeded"),
    `max_cpu` (percent of one core: 150 is one and a half cores), `cpu_cores` (the CPUs it may run on,
    "0-1" or "2,4"), `max_iobps` (bytes per second read, and written, on each disk) and `max_processes`.
    None or 0: no limit. What a run used is in its JobInfo.usage.
    `cpu` (cores, 1.5 allowed), `memory` (MB) and `gpus` are requests: reserved for the job on its worker
    while it runs, so it waits for a worker with them free; a job with gpus gets its own devices in
    CUDA_VISIBLE_DEVICES (docs/job-control.md, "Placement and requests").
    Job control (docs/job-control.md): `command` with `argv` runs a program instead of a file (no filename;
    the arguments reach it exactly as given, no shell), `uploads` (dicts {"path", "content", "mode"}, as
    Joblet's, or local paths) are written into the job's directory before it starts, `work_dir` is where it
    starts (relative to that directory, created), `runtime` names a runtime a worker offers (its interpreter
    runs the script or command) and `volumes` ["NAME:/path"] the volumes it uses (it runs on their worker).
    A .py job is forked from its worker's warm interpreter, which it cannot tell from a fresh one;
    `cold_start=True` starts it in a fresh interpreter (docs/job-control.md, "Warm Python jobs").
    """

    def __init__(self, job_id: Optional[str] = None, filename: Optional[str] = None, job_type: str = "RUN_PAYLOAD",
                 args: Optional[str] = None, parents: Optional[List[str]] = None, port: int = 0,
                 is_archive: bool = False, priority: int = 1, delay: float = 0, affinity: bool = False,
                 requirement: str = "GENERAL", hitl_message: Optional[str] = None, max_wait_seconds: int = 172800,
                 *, id: Optional[str] = None, retries: int = 0, timeout: Optional[float] = None,
                 env: Optional[Env] = None, secret_env: Optional[Env] = None,
                 secret_environment: Optional[Env] = None, on_worker_lost: Optional[str] = None,
                 content: Union[str, bytes, None] = None, max_memory: Optional[int] = None,
                 max_cpu: Optional[int] = None, cpu_cores: Optional[str] = None, max_iobps: Optional[int] = None,
                 max_processes: Optional[int] = None, cpu: Optional[float] = None,
                 memory: Optional[int] = None, gpus: Optional[int] = None, command: Optional[str] = None,
                 argv: Optional[Sequence[Any]] = None, work_dir: Optional[str] = None,
                 runtime: Optional[str] = None, volumes: Optional[Sequence[str]] = None,
                 uploads: Optional[Sequence[Any]] = None, cold_start: bool = False):
        if id is not None and job_id is not None and id != job_id:
            raise TypeError("TitanJob got job_id=%r and id=%r; pass only one" % (job_id, id))
        job_id = job_id if job_id is not None else id
        if secret_env is not None and secret_environment is not None:
            raise TypeError("TitanJob got secret_env and secret_environment (the same thing); pass only one")
        if not job_id:
            raise TypeError("TitanJob needs a job_id (or id), e.g. TitanJob(job_id=\"train_v1\", filename=...)")
        if command is not None and (filename or content is not None or is_archive):
            raise TypeError("TitanJob %r: a job runs either a file (filename) or a command, not both" % job_id)
        if argv is not None and command is None:
            raise TypeError("TitanJob %r: argv goes with command; a script's arguments are args" % job_id)
        if not filename and command is None:
            raise TypeError("TitanJob %r needs a filename (the script or artifact to run) or a command" % job_id)
        if content is not None and (is_archive or not isinstance(content, (str, bytes))):
            raise TypeError("TitanJob %r: content is the script as str or bytes, and an archive job takes none; got %s"
                            % (job_id, "is_archive=True" if is_archive else type(content).__name__))
        if content is None and command is None:
            _check_absolute(job_id, filename, is_archive)
        self.job_id = job_id
        self.filename = filename
        self.job_type = job_type
        self.args = args
        self.parents = list(parents) if parents else []
        self.port = port
        self.is_archive = is_archive
        self.priority = priority
        self.delay = delay
        self.affinity = affinity
        self.requirement = requirement
        self.hitl_message = hitl_message
        self.max_wait_seconds = max_wait_seconds
        self.retries = retries
        self.timeout = timeout
        self.env = env
        self.secret_env = secret_env if secret_env is not None else secret_environment
        self.on_worker_lost = on_worker_lost
        self.content = content
        self.max_memory = max_memory
        self.max_cpu = max_cpu
        self.cpu_cores = cpu_cores
        self.max_iobps = max_iobps
        self.max_processes = max_processes
        self.cpu, self.memory, self.gpus = cpu, memory, gpus
        self.command = command
        self.argv = list(argv) if argv is not None else None
        self.work_dir = work_dir
        self.runtime = runtime
        self.volumes = list(volumes) if volumes else None
        self.uploads = list(uploads) if uploads else None
        self.cold_start = bool(cold_start)

    @property
    def id(self) -> str:
        return self.job_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TitanJob) and vars(self) == vars(other)

    def __repr__(self) -> str:
        fields = dict(vars(self))
        if fields.get("secret_env"):  # a repr lands in logs and tracebacks: names only
            fields["secret_env"] = ["%s=****" % name for name in _secret_names(fields["secret_env"])]
        if fields.get("content") is not None:  # a whole script: its size only
            fields["content"] = "<%d bytes>" % len(fields["content"])
        if fields.get("uploads"):  # files: their number only
            fields["uploads"] = "<%d uploads>" % len(fields["uploads"])
        return "TitanJob(%s)" % ", ".join("%s=%r" % kv for kv in fields.items())


def _check_absolute(job_id: str, filename: Any, is_archive: bool) -> None:
    """Raises JobFileNotFoundError when `filename` is an absolute path to nothing (for an archive job, its
    '<project>.zip' part): such a name cannot be a deployed script, so the job could never run."""
    path = os.fspath(filename)
    if not isinstance(path, str) or not os.path.isabs(path):
        return
    if is_archive and ".zip/" in path:
        path = path[:path.index(".zip/") + 4]
    if not os.path.lexists(path):
        raise JobFileNotFoundError("job %r: file %s not found; give the path of an existing script (or a "
                                   "relative name of one deployed with client.deploy_script)" % (job_id, path),
                                   path)


@dataclasses.dataclass
class JobInfo(messages.JobInfo):
    """One job as the broker reports it: every field of the protocol's JobInfo (the generated
    messages.JobInfo, whose comments say what each means), with `run` 1 when the broker does not say.
    Times are Unix epoch milliseconds; `started_ms`/`finished_ms` belong to the latest attempt, None
    until it starts/ends. `kind` is None for jobs and "GATE" for a human-in-the-loop gate
    (hitl-gate-<job id>); `job_type`, `port`, `restarts`, `ready` and `up_since_ms` describe services.
    `usage` (a messages.JobUsage: peak_memory_bytes, cpu_ms, io_read_bytes, io_write_bytes) is what its last
    finished run used, as its worker's cgroups counted; `max_memory`, `max_cpu`, `cpu_cores`, `max_iobps` and
    `max_processes` are its limits as submitted (docs/job-control.md)."""

    run: int = 1  # which run of this id (an id is reused once its earlier run ended; 1 = the first)

    @classmethod
    def from_wire(cls, fields: Dict[str, Any]) -> "JobInfo":
        """From a decoded JobInfo dict. A field the schema lacks raises ValueError instead of vanishing."""
        return super().from_wire(fields)

    @property
    def is_final(self) -> bool:
        """True once the job can no longer change (COMPLETED FAILED CANCELLED DEAD SKIPPED)."""
        return self.state in FINAL_STATES

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def __getitem__(self, key: str) -> Any:  # info["state"], as with the dicts of other job SDKs
        if key not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(key)
        return getattr(self, key)


def _secret_names(env: Env) -> List[str]:
    """The names of secret_env entries (a dict, or "NAME=value" strings)."""
    if isinstance(env, Mapping):
        return [str(k) for k in env]
    return [str(e).split("=", 1)[0] for e in env]
