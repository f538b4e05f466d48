# Building JOB_SUBMIT (and SCHEDULE_ADD) from TitanJobs: each job becomes a JobSpec, and each distinct
# local file is read once and sent as a FileBlob named by its basename. Pure apart from reading the job files; raises
# before anything is sent, so a refused submission leaves nothing behind on the broker.
import math
import os
import shlex
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import InvalidError, JobFileNotFoundError, TitanError, TooLargeError
from .job import Env, TitanJob
from .protocol import MAX_BODY_BYTES

# What the files of one submission may add up to: the body also holds the job specs.
MAX_FILES_BYTES = MAX_BODY_BYTES - 256 * 1024


def build_submit(jobs: Sequence[TitanJob], dag: Optional[str], agent_run_id: Optional[str]) -> Dict[str, Any]:
    """The fields of a JOB_SUBMIT for `jobs` (in order). Raises TypeError for a job that is not a
    TitanJob, JobFileNotFoundError for a missing file, InvalidError for two different files with the
    same basename, TooLargeError when the files do not fit in one message."""
    if isinstance(jobs, TitanJob):
        jobs = [jobs]
    jobs = list(jobs)
    if not jobs:
        raise InvalidError("the submission has no jobs; pass at least one TitanJob")
    for j in jobs:
        if not isinstance(j, TitanJob):
            raise TypeError("jobs must be TitanJob objects; got %s" % type(j).__name__)
    files = _read_files(jobs)
    return {
        "jobs": [job_spec(j) for j in jobs],
        "files": [{"name": name, "content": content} for name, (_, content) in files.items()],
        "dag": dag or None,
        "agent_run_id": agent_run_id or None,
    }


def job_spec(job: TitanJob) -> Dict[str, Any]:
    """The JobSpec of `job`: the wire form of its fields, defaults left to the broker."""
    _refuse_unsupported(job)
    spec: Dict[str, Any] = {"id": _text("job_id", job.job_id), "file": os.path.basename(job.filename)}
    if job.args is not None:
        spec["args"] = job.args if isinstance(job.args, str) else shlex.join(str(a) for a in job.args)
    if job.job_type and job.job_type != "RUN_PAYLOAD":
        spec["job_type"] = _text("job_type", job.job_type)
    if job.port:
        spec["port"] = _int(job, "port", job.port)
    spec["priority"] = _int(job, "priority", job.priority)
    if job.delay:
        spec["delay_ms"] = _millis(job, "delay", job.delay)
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
    if job.hitl_message is not None:
        spec["hitl_message"] = _text("hitl_message", job.hitl_message)
        if not job.hitl_message.strip():
            raise ValueError("job %r: hitl_message is empty; give the question the approver sees (or None for "
                             "no gate)" % job.job_id)
        spec["max_wait_s"] = _int(job, "max_wait_seconds", job.max_wait_seconds)
        if job.max_wait_seconds <= 0:
            raise ValueError("job %r: max_wait_seconds must be > 0 (the gate's deadline); got %r"
                             % (job.job_id, job.max_wait_seconds))
    return spec


def env_list(env: Env) -> List[str]:
    """{"A": 1} or ["A=1"] -> ["A=1"]; a name must be non-empty and hold no "="."""
    items = ([(k, v) for k, v in env.items()] if isinstance(env, Mapping)
             else [tuple(e.split("=", 1)) if "=" in e else (e, None) for e in env])
    out = []
    for name, value in items:
        if not isinstance(name, str) or not name or "=" in name or value is None:
            raise ValueError("env entry %r is not NAME=value with a non-empty NAME" % (name,))
        out.append("%s=%s" % (name, value))
    return out


def _read_files(jobs: List[TitanJob]) -> Dict[str, Tuple[str, bytes]]:
    """basename -> (absolute path, content), one entry per distinct file."""
    files: Dict[str, Tuple[str, bytes]] = {}
    for j in jobs:
        path = os.path.abspath(os.fspath(j.filename))
        name = os.path.basename(path)
        if name in files:
            if files[name][0] == path:
                continue
            content = _read(j, path)
            if content != files[name][1]:
                raise InvalidError("jobs run two different files named %r (%s and %s); the worker keeps only the "
                                   "name, so rename one of them" % (name, files[name][0], path))
            continue
        files[name] = (path, _read(j, path))
    check_files_fit({path: content for path, content in files.values()})
    return files


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


def _refuse_unsupported(job: TitanJob) -> None:
    if job.is_archive:
        raise TitanError("job %r: is_archive=True (zipped project folders) is not supported by this Titan; submit "
                         "the entry script itself" % job.job_id)


def _text(what: str, v: Any) -> str:
    if not isinstance(v, str):
        raise TypeError("%s must be str; got %s" % (what, type(v).__name__))
    return v


def _int(job: TitanJob, what: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("job %r: %s must be int; got %r" % (job.job_id, what, v))
    return v


def _millis(job: TitanJob, what: str, seconds: Any) -> int:
    """Seconds (int or float) -> whole milliseconds."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        raise TypeError("job %r: %s must be a number of seconds; got %r" % (job.job_id, what, seconds))
    if seconds < 0:
        raise ValueError("job %r: %s must be >= 0 seconds; got %r" % (job.job_id, what, seconds))
    return int(round(seconds * 1000))
