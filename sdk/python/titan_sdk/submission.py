# Building JOB_SUBMIT (and SCHEDULE_ADD) from TitanJobs: each job becomes a JobSpec; each distinct local
# script is read once and sent inline as a FileBlob named by its basename. What does not travel inline
# is named instead, for the broker to resolve in its `perm_files` space: project zips of archive jobs and
# scripts too big for one message (both uploaded there first, see SubmitPlan.deploys), and scripts that
# do not exist here (deployed earlier with deploy_script). Pure apart from reading local files; raises
# before anything is sent.
import filecmp
import math
import os
import re
import shlex
import zipfile
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from .artifacts import split_archive_path, validate_name
from .errors import InvalidError, JobFileNotFoundError, NotFoundError, TitanError, TooLargeError
from .job import Env, TitanJob
from .limits import limit_spec
from .job_payload import payload_fields
from .protocol import MAX_BODY_BYTES
from .requests import request_spec

# What the files of one submission may add up to: the body also holds the job specs.
MAX_FILES_BYTES = MAX_BODY_BYTES - 256 * 1024


class SubmitPlan(NamedTuple):
    """A planned JOB_SUBMIT. `fields` are its fields (jobs, files, dag, agent_run_id). `deploys` are
    (local path, name) pairs to upload to perm_files before sending it (project zips, big scripts).
    `remote` maps the id of each job whose file is not on this machine to (its filename, the name the
    broker must find in perm_files, whether it is an archive job)."""

    fields: Dict[str, Any]
    deploys: List[Tuple[str, str]]
    remote: Dict[str, Tuple[str, str, bool]]

    def not_found(self, error: NotFoundError) -> TitanError:
        """The error to raise when the broker answered `error` (NOT_FOUND) to this submission: a
        JobFileNotFoundError that says which job's file is missing and how to provide it."""
        if not self.remote:
            return error
        named = re.search(r"job '([^']*)'", error.reason)
        if named and named.group(1) not in self.remote:
            return error  # about a file this side sent or deployed (deleted meanwhile?): the broker's words
        job_id = named.group(1) if named else next(iter(self.remote))
        filename, name, is_archive = self.remote[job_id]
        if is_archive:
            local = split_archive_path(filename)[0]
            how = ("upload the project first with client.upload_project_folder(folder) (it deploys "
                   "'<folder name>.zip'), or submit from where %s exists" % local)
            what = "its project %s is not a file here" % local
        else:
            how = ("give a path to the script, absolute or relative to the current directory, or deploy it "
                   "first with client.deploy_script(path)")
            what = "file %s not found here" % filename
        return JobFileNotFoundError("job %r: %s (cwd %s) and %r is not deployed on the broker; %s. Broker: %s"
                                    % (job_id, what, os.getcwd(), name, how, error.reason), filename, error.reason)


def plan_submit(jobs: Sequence[TitanJob], dag: Optional[str], agent_run_id: Optional[str]) -> SubmitPlan:
    """The SubmitPlan for `jobs` (in order). Raises TypeError for a job that is not a TitanJob,
    InvalidError for two different files with the same basename, an archive job whose filename is not
    "<project>.zip/<entry>" or whose local zip lacks that entry, TitanError for a path that is a folder."""
    if isinstance(jobs, TitanJob):
        jobs = [jobs]
    jobs = list(jobs)
    if not jobs:
        raise InvalidError("the submission has no jobs; pass at least one TitanJob")
    for j in jobs:
        if not isinstance(j, TitanJob):
            raise TypeError("jobs must be TitanJob objects; got %s" % type(j).__name__)
    files: Dict[str, Tuple[str, bytes]] = {}  # basename -> (absolute path, content), sent inline
    deploys: Dict[str, str] = {}  # perm_files name -> absolute path
    remote: Dict[str, Tuple[str, str, bool]] = {}
    specs = []
    for j in jobs:
        if getattr(j, "command", None) is not None:
            file = ""  # a command job sends no file
        elif j.is_archive:
            file = _plan_archive(j, deploys, remote)
        else:
            file = _plan_script(j, files, remote)
        specs.append(job_spec(j, file))
    for name in _too_big(files):
        origin, content = files.pop(name)
        if not os.path.isabs(origin):  # an inline script: there is no file to deploy
            raise TooLargeError("%s (%s) is %d bytes, more than one submission carries with the other files; "
                                "deploy it first (deploy_script) and name it instead" % (name, origin, len(content)))
        deploys[name] = origin
    return SubmitPlan({
        "jobs": specs,
        "files": [{"name": name, "content": content} for name, (_, content) in files.items()],
        "dag": dag or None,
        "agent_run_id": agent_run_id or None,
    }, [(path, name) for name, path in deploys.items()], remote)


def job_spec(job: TitanJob, file: Optional[str] = None) -> Dict[str, Any]:
    """The JobSpec of `job`: the wire form of its fields, defaults left to the broker. `file` is the name
    the broker knows the job's file by (default: the basename of job.filename)."""
    if file is None:
        file = "" if getattr(job, "command", None) is not None else os.path.basename(os.fspath(job.filename))
    spec: Dict[str, Any] = {"id": _text("job_id", job.job_id), "file": file}
    if job.is_archive:
        spec["archive"] = True
    if job.args is not None:
        spec["args"] = job.args if isinstance(job.args, str) else shlex.join(str(a) for a in job.args)
    if job.job_type and job.job_type != "RUN_PAYLOAD":
        spec["job_type"] = _text("job_type", job.job_type)
    if job.port:
        spec["port"] = _int(job, "port", job.port)
    spec["priority"] = _int(job, "priority", job.priority)
    if job.delay:
        spec["delay_ms"] = _delay_ms(job)
    if job.requirement:
        spec["requirement"] = _text("requirement", job.requirement)
    if job.affinity:
        spec["affinity"] = True
    if job.parents:
        spec["parents"] = [_text("parents", p) for p in job.parents]
    if job.retries:
        spec["retries"] = _int(job, "retries", job.retries)
    if job.timeout:
        spec["timeout_ms"] = _millis(job, "timeout", job.timeout)
    if job.env:
        spec["env"] = env_list(job.env)
    if getattr(job, "secret_env", None):
        spec["secret_env"] = env_list(job.secret_env, "secret_env", echo=False)
    if getattr(job, "on_worker_lost", None) is not None:
        spec["on_worker_lost"] = _text("on_worker_lost", job.on_worker_lost)
    spec.update(limit_spec(job))
    spec.update(request_spec(job.job_id, getattr(job, "cpu", None), getattr(job, "memory", None),
                             getattr(job, "gpus", None)))
    spec.update(payload_fields(job))
    spawner = os.environ.get("TITAN_JOB_ID")
    if spawner:  # submitted by a running job: with affinity and no parents, it runs where that job runs
        spec["spawned_by"] = spawner
    if job.hitl_message is not None:
        spec.update(_gate_fields(job))
    return spec


def _gate_fields(job: TitanJob) -> Dict[str, Any]:
    """hitl_message and max_wait_s of a job with a human approval gate after it."""
    message = _text("hitl_message", job.hitl_message)
    if not message.strip():
        raise ValueError("job %r: hitl_message is empty; give the question the approver sees (or None for "
                         "no gate)" % job.job_id)
    max_wait = _int(job, "max_wait_seconds", job.max_wait_seconds)
    if max_wait <= 0:
        raise ValueError("job %r: max_wait_seconds must be > 0 (the gate's deadline); got %r" % (job.job_id, max_wait))
    return {"hitl_message": message, "max_wait_s": max_wait}


def env_list(env: Env, what: str = "env", echo: bool = True) -> List[str]:
    """{"A": 1} or ["A=1"] -> ["A=1"]; a name must be non-empty and hold no "=". Without `echo` (secrets)
    an error names no entry."""
    items = ([(k, v) for k, v in env.items()] if isinstance(env, Mapping)
             else [tuple(e.split("=", 1)) if "=" in e else (e, None) for e in env])
    out = []
    for name, value in items:
        if not isinstance(name, str) or not name or "=" in name or value is None:
            raise ValueError("%s entry %s is not NAME=value with a non-empty NAME"
                             % (what, repr(name) if echo else "#%d" % (len(out) + 1)))
        out.append("%s=%s" % (name, value))
    return out


def _plan_script(job: TitanJob, files: Dict[str, Tuple[str, bytes]],
                 remote: Dict[str, Tuple[str, str, bool]]) -> str:
    """Reads a local script (or takes the job's `content`) into `files` (once per distinct file), or records it
    in `remote` when it is not on this machine. Returns its name for the JobSpec."""
    content = getattr(job, "content", None)
    if content is not None:
        name = validate_name(os.path.basename(os.fspath(job.filename)))
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        return _add_file(files, name, INLINE % job.job_id, data)
    path = os.path.abspath(os.fspath(job.filename))
    name = os.path.basename(path)
    if not os.path.lexists(path):
        remote[job.job_id] = (os.fspath(job.filename), validate_name(name), False)
        return name
    if name in files and files[name][0] == path:
        return name
    return _add_file(files, name, path, _read(job, path))


INLINE = "the content given for job %r"  # where an inline script came from, in `files` and in messages


def _add_file(files: Dict[str, Tuple[str, bytes]], name: str, origin: str, content: bytes) -> str:
    """Adds `content` under `name` (from `origin`: a path, or INLINE) unless the same bytes are there already;
    InvalidError when other bytes are. Returns `name`."""
    if name in files and files[name][1] != content:
        raise InvalidError("jobs run two different files named %r (%s and %s); the worker keeps only the "
                           "name, so rename one of them" % (name, files[name][0], origin))
    files.setdefault(name, (origin, content))
    return name


def _plan_archive(job: TitanJob, deploys: Dict[str, str], remote: Dict[str, Tuple[str, str, bool]]) -> str:
    """An archive job's file "<project>.zip/<entry>": the local zip goes to `deploys` (under its basename),
    a zip not on this machine to `remote`. Returns "<zip basename>/<entry>" for the JobSpec."""
    filename = os.fspath(job.filename)
    split = split_archive_path(filename)
    if split is None:
        raise InvalidError("job %r is an archive job, so its filename must be '<project>.zip/<entry>' (for example "
                           "'proj.zip/src/main.py'), not %r" % (job.job_id, filename))
    local, entry = split
    path = os.path.abspath(local)
    name = os.path.basename(path)
    file = validate_name(name + "/" + entry)
    if not os.path.lexists(path):
        remote[job.job_id] = (filename, name, True)
        return file
    if not os.path.isfile(path):
        raise TitanError("job %r: %s is not a zip file; zip the project folder with client.upload_project_folder"
                         "(folder) and name '<folder name>.zip/<entry>'" % (job.job_id, local))
    _check_zip(job, path, entry)
    if name in deploys and deploys[name] != path and not filecmp.cmp(deploys[name], path, shallow=False):
        raise InvalidError("jobs run two different projects named %r (%s and %s); the broker keeps only the name, "
                           "so rename one of them" % (name, deploys[name], path))
    deploys.setdefault(name, path)
    return file


def _check_zip(job: TitanJob, path: str, entry: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        raise InvalidError("job %r: %s is not a readable zip file (%s); zip the project folder with "
                           "client.upload_project_folder(folder)" % (job.job_id, path, e)) from None
    if entry not in names:
        raise InvalidError("job %r: project %s has no file %r; name an entry point that exists inside the zip"
                           % (job.job_id, path, entry))


def _too_big(files: Mapping[str, Tuple[str, bytes]]) -> List[str]:
    """The names of the biggest inline files to deploy instead, so that the rest fits one message."""
    total = sum(len(c) for _, c in files.values())
    out = []
    for name in sorted(files, key=lambda n: len(files[n][1]), reverse=True):
        if total <= MAX_FILES_BYTES:
            break
        out.append(name)
        total -= len(files[name][1])
    return out


def check_files_fit(files: Mapping[str, bytes]) -> None:
    """Raises TooLargeError when the files (name or path -> bytes) do not fit in one submission."""
    total = sum(len(c) for c in files.values())
    if total > MAX_FILES_BYTES:
        biggest = max(files, key=lambda name: len(files[name]))
        raise TooLargeError("the job files add up to %d bytes (largest: %s, %d bytes); one submission carries at "
                            "most %d. Submit big jobs separately, or ship data through TitanStore or an artifact"
                            % (total, biggest, len(files[biggest]), MAX_FILES_BYTES))


def _read(job: TitanJob, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise JobFileNotFoundError("job %r: file %s not found (cwd %s); give a path to the script, absolute or "
                                   "relative to the current directory" % (job.job_id, job.filename, os.getcwd()),
                                   job.filename) from None
    except IsADirectoryError:
        raise TitanError("job %r: %s is a directory; give a path to the script" % (job.job_id, path)) from None
    except OSError as e:
        raise TitanError("job %r: cannot read %s: %s" % (job.job_id, path, e.strerror or e)) from None


def _text(what: str, v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("%s must be str; got %s" % (what, type(v).__name__))
    return v


def _int(job: TitanJob, what: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("job %r: %s must be int; got %r" % (job.job_id, what, v))
    return v


def _delay_ms(job: TitanJob) -> int:
    """TitanJob.delay, in milliseconds as the original Titan's SDK took it (int or float)."""
    ms = job.delay
    if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not math.isfinite(ms):
        raise TypeError("job %r: delay must be a number of milliseconds; got %r" % (job.job_id, ms))
    if ms < 0:
        raise ValueError("job %r: delay must be >= 0 milliseconds; got %r" % (job.job_id, ms))
    return int(round(ms))


_INT64_MAX = 2**63 - 1


def _millis(job: TitanJob, what: str, seconds: Any) -> int:
    """Seconds (int or float) -> whole milliseconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise TypeError("job %r: %s must be a number of seconds; got %r" % (job.job_id, what, seconds))
    if seconds < 0:
        raise ValueError("job %r: %s must be >= 0 seconds; got %r" % (job.job_id, what, seconds))
    millis = int(round(seconds * 1000))
    if millis > _INT64_MAX:  # the broker names the allowed range for anything that fits the wire
        raise ValueError("job %r: %s of %r seconds is out of range; use at most a year" % (job.job_id, what, seconds))
    return millis
