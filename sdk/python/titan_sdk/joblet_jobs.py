# client.jobs: the Joblet SDK's JobService (seed 003) on Titan. A Joblet program runs with its import
# changed (docs/joblet.md): run_job, get_job_status, stop_job, delete_job, get_job_logs, list_jobs and the
# workflow calls take Joblet's arguments and return Joblet's dicts, built from the broker's JobInfo.
import dataclasses
import datetime
import os
import re
import tempfile
import uuid
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Mapping, Optional, Sequence

from . import pipeline
from .errors import (InvalidError, JobNotFoundError, NetworkError, RuntimeNotFoundError, TitanTimeoutError,
                     ValidationError, WorkflowNotFoundError)
from .job import FINAL_STATES, JobInfo, TitanJob
from .protocol import MsgType

if TYPE_CHECKING:  # pragma: no cover
    from .client import TitanClient

# Joblet's status words for Titan's states: waiting states are "pending", a delayed job "scheduled", every
# way of not completing that is not a stop "failed".
JOBLET_STATUS = {
    "PENDING": "pending", "BLOCKED": "pending", "QUEUED": "pending", "WAITING_APPROVAL": "pending",
    "SCHEDULED": "scheduled", "RUNNING": "running", "COMPLETED": "completed", "FAILED": "failed",
    "DEAD": "failed", "SKIPPED": "failed", "CANCELLED": "cancelled",
}
# Networks a process job has without isolation: Joblet's default "bridge" and "host" mean the worker's own.
UNISOLATED_NETWORKS = (None, "", "bridge", "host", "default")
_NAME_SUFFIX = re.compile(r"^(.+)-[0-9a-f]{8}$")
# stop_job waits this long for the job's end: more than a worker's kill grace (SIGTERM, then SIGKILL).
STOP_WAIT_S = 30.0
_LIMITS = ("max_cpu", "cpu_cores", "max_memory", "max_iobps", "max_processes", "cpu_milli", "memory_mb", "gpus")


def _iso(ms: Optional[int]) -> Optional[str]:
    """Unix epoch milliseconds as ISO 8601 UTC ("2026-12-06T19:30:00.123Z"); None stays None."""
    if ms is None:
        return None
    when = datetime.datetime.fromtimestamp(ms / 1000.0, tz=datetime.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def job_name(job_id: str) -> str:
    """The name run_job was given: the id without the suffix run_job added (the id itself otherwise)."""
    m = _NAME_SUFFIX.match(job_id)
    return m.group(1) if m else job_id


def joblet_status(info: JobInfo) -> Dict[str, Any]:
    """A job as Joblet's get_job_status reports it: job_uuid, name, status (lowercase), command, args,
    start_time, end_time, exit_code, environment (its plain entries; secrets never), plus Titan's state, reason,
    worker, limits and resource usage."""
    usage = info.usage
    status: Dict[str, Any] = {
        "job_uuid": info.id,
        "name": job_name(info.id),
        "status": JOBLET_STATUS.get(info.state, info.state.lower()),
        "state": info.state,
        "command": info.command if info.command else info.file,
        "args": list(info.argv or []),
        "start_time": _iso(info.started_ms),
        "end_time": _iso(info.finished_ms),
        "scheduled_time": None,
        "exit_code": info.exit_code,
        "reason": info.reason,
        "worker": info.worker,
        "runtime": info.runtime,
        "volumes": list(info.volumes or []),
        "work_dir": info.work_dir,
        "environment": dict(e.split("=", 1) for e in info.env or [] if "=" in e),
        "submitted_time": _iso(info.submitted_ms),
        "resource_usage": {
            "peak_memory_bytes": getattr(usage, "peak_memory_bytes", None),
            "cpu_ms": getattr(usage, "cpu_ms", None),
            "io_read_bytes": getattr(usage, "io_read_bytes", None),
            "io_write_bytes": getattr(usage, "io_write_bytes", None),
        } if usage is not None else None,
    }
    for key in _LIMITS:
        status[key] = getattr(info, key)
    return status


def _delay_ms(schedule: Optional[str]) -> int:
    """Joblet's `schedule` (an ISO 8601 time; naive means UTC) as a delay from now, in milliseconds."""
    if not schedule:
        return 0
    text = schedule.strip()
    if text.endswith("Z") or text.endswith("z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("schedule=%r is not an ISO 8601 time; give e.g. '2026-12-24T18:00:00Z'" % schedule) \
            from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = datetime.datetime.now(datetime.timezone.utc)
    return max(0, int((when - now).total_seconds() * 1000))


def _uploads(uploads: Optional[Sequence[Mapping[str, Any]]]) -> Optional[List[Dict[str, Any]]]:
    """Joblet's upload dicts as TitanJob takes them; a directory entry becomes its files' parent (made when a
    file in it is written), so an empty directory is refused."""
    if not uploads:
        return None
    files: List[Dict[str, Any]] = []
    for u in uploads:
        if u.get("is_directory"):
            continue  # a directory is created by the files placed in it
        content = u.get("content", b"")
        files.append({"path": u["path"], "content": content.encode() if isinstance(content, str) else content,
                      "mode": u.get("mode", 0o644)})
    return files


class JobService:
    """Joblet's JobService (client.jobs): run jobs and workflows, read their status and logs, stop and delete
    them. Errors: JobNotFoundError for an unknown id, ValidationError for arguments the broker refuses,
    NetworkError for a network other than the worker's own, TitanConnectionError when the broker is
    unreachable."""

    def __init__(self, client: "TitanClient"):
        self._client = client

    # ---- jobs ----------------------------------------------------------------------------------------

    def run_job(self, command: str, args: Optional[List[str]] = None, name: Optional[str] = None,
                max_cpu: Optional[int] = None, cpu_cores: Optional[str] = None, max_memory: Optional[int] = None,
                max_iobps: Optional[int] = None, schedule: Optional[str] = None, network: Optional[str] = None,
                volumes: Optional[List[str]] = None, runtime: Optional[str] = None, work_dir: Optional[str] = None,
                environment: Optional[Dict[str, str]] = None, secret_environment: Optional[Dict[str, str]] = None,
                uploads: Optional[List[Dict[str, Any]]] = None, **titan: Any) -> Dict[str, Any]:
        """Runs `command` with `args` (as given, no shell) on a worker and returns the job as get_job_status
        does. Limits (max_cpu percent of one core, cpu_cores, max_memory MB, max_iobps bytes/s) are enforced
        by the worker's cgroups; `schedule` is an ISO 8601 time to start at; `network` may only be the worker's
        own ("bridge", "host" or None: Titan does not isolate networks); a `runtime` no live worker offers raises
        RuntimeNotFoundError, as Joblet does; further keywords go to TitanJob (max_processes, cpu, memory, gpus,
        requirement, retries, timeout, ...)."""
        if not command:
            raise ValidationError("run_job needs a command, e.g. run_job('echo', ['hello'])")
        if network not in UNISOLATED_NETWORKS:
            raise NetworkError("network=%r: Titan runs jobs as processes on their worker's own network and does not "
                               "isolate networks (docs/job-control.md, Networks); leave network unset" % network)
        if runtime and self._client.runtimes.validate_runtime_spec(runtime)["available"] is not True:
            # Joblet refuses a runtime that is not installed; Titan itself would queue the job until a worker
            # offering it joins (TitanJob(runtime=...) still does).
            raise RuntimeNotFoundError("runtime=%r: no live worker offers it; start one with `titan worker --runtime "
                                       "%s=PATH`, or leave runtime unset" % (runtime, runtime))
        job_id = "%s-%s" % (name, uuid.uuid4().hex[:8]) if name else str(uuid.uuid4())
        job = TitanJob(job_id, command=command, argv=[str(a) for a in (args or [])], delay=_delay_ms(schedule),
                       max_cpu=max_cpu, cpu_cores=cpu_cores, max_memory=max_memory, max_iobps=max_iobps,
                       volumes=volumes, runtime=runtime, work_dir=work_dir, env=environment,
                       secret_env=secret_environment, uploads=_uploads(uploads), **titan)
        self._client.submit_job(job)
        status = self.get_job_status(job_id)
        if schedule:
            status["scheduled_time"] = schedule
        return status

    def get_job_status(self, job_uuid: str) -> Dict[str, Any]:
        """The job as Joblet reports it (joblet_status); JobNotFoundError for an unknown id."""
        info = self._client.get_job(job_uuid)
        if info is None:
            raise JobNotFoundError("no job %r; list_jobs() shows the jobs" % job_uuid)
        return joblet_status(info)

    def stop_job(self, job_uuid: str) -> Dict[str, Any]:
        """Stops the job and returns once it has stopped, as Joblet's does (a waiting one is cancelled at once, a
        running one killed: SIGTERM, its grace, SIGKILL); returns job_uuid, status ("cancelled", or the state it
        ended in first) and success. A job whose end is not seen within STOP_WAIT_S is reported as it is then."""
        state = self._client.stop_job(job_uuid)
        if state not in FINAL_STATES:
            try:
                state = self._client._wait(job_uuid, STOP_WAIT_S, service_up_ends=False)
            except TitanTimeoutError:
                info = self._client.get_job(job_uuid)
                state = info.state if info is not None else state
        return {"job_uuid": job_uuid, "status": JOBLET_STATUS.get(state, state.lower()), "success": True}

    def delete_job(self, job_uuid: str) -> Dict[str, Any]:
        """Removes a finished job and its logs; success False with the broker's message when it may not be
        deleted (still running: stop it first; a job of a workflow). JobNotFoundError for an unknown id."""
        try:
            self._client.delete_job(job_uuid)
        except JobNotFoundError:
            raise
        except InvalidError as e:
            return {"job_uuid": job_uuid, "success": False, "message": e.reason}
        return {"job_uuid": job_uuid, "success": True, "message": "job %s deleted" % job_uuid}

    def get_job_logs(self, job_uuid: str) -> Iterator[bytes]:
        """The job's output as bytes chunks: what is there, then live output until the job ends."""
        for chunk in self._client.stream_logs(job_uuid, follow=True):
            yield chunk.encode("utf-8", "surrogateescape")

    def list_jobs(self) -> List[Dict[str, Any]]:
        """Every job the broker lists (newest first, at most 10,000), each as get_job_status reports it."""
        return [joblet_status(info) for info in self._client.list_jobs(limit=10000)]

    # ---- workflows (DAGs) ----------------------------------------------------------------------------

    def run_workflow(self, workflow: str, yaml_content: Optional[str] = None,
                     workflow_files: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
        """Runs a Joblet (or Titan) workflow YAML as one DAG. `workflow` is a file path when `yaml_content` is
        None, else the workflow's name (the DAG's: "name#N" when the name was used before); `workflow_files` ({"path", "content"[, "mode"]}) are the scripts its
        jobs run, placed beside it. Returns workflow_uuid, name, status and the job ids."""
        if yaml_content is None:
            if not os.path.isfile(workflow):
                raise ValidationError("run_workflow(%r): no such workflow file; pass yaml_content= to give the "
                                      "YAML itself" % workflow)
            # A Joblet workflow file may leave its name out: it is then named by the file ("deps.yaml": "deps").
            stem = os.path.splitext(os.path.basename(workflow))[0]
            dag_id = self._client._submit_pipeline(pipeline.parse(workflow, name=stem), False, None)
        else:
            with tempfile.TemporaryDirectory(prefix="titan-workflow-") as folder:
                for f in workflow_files or []:
                    path = os.path.join(folder, f["path"])
                    if os.path.relpath(path, folder).startswith(".."):
                        raise ValidationError("workflow file %r is outside the workflow's folder" % f["path"])
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    content = f.get("content", b"")
                    with open(path, "wb") as out:
                        out.write(content.encode() if isinstance(content, str) else content)
                    os.chmod(path, f.get("mode", 0o644))
                # The workflow is named by `workflow`, as Joblet names it, not by the YAML's own name.
                submission = dataclasses.replace(pipeline.parse_text(yaml_content, folder, name=workflow), dag=workflow)
                dag_id = self._client._submit_pipeline(submission, False, None)
        return self.get_workflow_status(dag_id)

    def get_workflow_status(self, workflow_uuid: str) -> Dict[str, Any]:
        """The workflow's status (lowercase), counts and job ids; WorkflowNotFoundError for an unknown id."""
        return self._workflow(self._dag(workflow_uuid))

    def list_workflows(self, include_completed: bool = False) -> List[Dict[str, Any]]:
        """Workflows (DAGs), newest first; only running ones unless `include_completed`."""
        dags = self._client.list_dags(limit=1000)
        return [self._workflow(d) for d in dags if include_completed or d.get("state") == "RUNNING"]

    def get_workflow_jobs(self, workflow_uuid: str) -> List[Dict[str, Any]]:
        """The jobs of the workflow, each as get_job_status reports it."""
        return [joblet_status(info) for info in self._dag(workflow_uuid)["jobs"]]

    def _dag(self, workflow_uuid: str) -> Dict[str, Any]:
        try:
            dag = self._client.get_dag(workflow_uuid)
        except InvalidError as e:
            raise WorkflowNotFoundError(e.reason) from None
        if dag is None:
            raise WorkflowNotFoundError("no workflow %r; list_workflows() shows them" % workflow_uuid)
        return dag

    @staticmethod
    def _workflow(dag: Dict[str, Any]) -> Dict[str, Any]:
        """A DAG (get_dag's, "jobs" a list of JobInfo, or list_dags', "jobs" a count) as a Joblet workflow."""
        state = dag.get("state", "")
        jobs = dag.get("jobs")
        return {
            "workflow_uuid": dag["id"], "name": dag.get("name"), "workflow": dag.get("name"),
            "status": JOBLET_STATUS.get(state, state.lower()), "state": state,
            "total_jobs": len(jobs) if isinstance(jobs, list) else jobs,
            "completed_jobs": dag.get("done", 0) - dag.get("failed", 0), "failed_jobs": dag.get("failed"),
            "jobs": [j.id for j in jobs] if isinstance(jobs, list) else None,
            "created_at": _iso(dag.get("submitted_ms")), "completed_at": _iso(dag.get("finished_ms")),
        }
