# The job tools: submit one job or a DAG, a job's status and log, wait for it, list jobs, cancel one.
import threading
from typing import Annotated, Any, List, Optional

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field
from titan_sdk import TitanClient, TitanTimeoutError

from . import views
from .errors import reported
from .params import READ, JobId, JobInput, Limit, Run, WaitSeconds, takes_job_fields

MAX_LOG_BYTES = 1 << 20  # the most one job_logs call returns


def register(server: MCPServer, client: TitanClient, submitting: threading.Lock) -> None:
    """Adds the job tools. `submitting` is held around each submission, so client.last_dag is its own."""
    tool = reported(client.credential)

    def submit(name: Optional[str], jobs: List[JobInput], agent_run_id: Optional[str]) -> dict[str, Any]:
        with submitting:
            ids = client.submit_dag(name, [j.titan_job() for j in jobs], agent_run_id)
            return {"dag": client.last_dag, "ids": ids}

    @server.tool()
    @tool
    @takes_job_fields
    def submit_job(**fields: Any) -> dict[str, Any]:
        """Runs one script on the cluster as a job. Returns its id in "ids" (and a gate's id when hitl_message
        asks for approval) and its "dag". Follow it with wait_job, job_status and job_logs."""
        return submit(None, [JobInput(**fields)], None)

    @server.tool()
    @tool
    def submit_dag(
            jobs: Annotated[List[JobInput], Field(min_length=1, description="The jobs, in any order; `parents` "
                                                  "link them into a graph (no cycles).")],
            name: Annotated[Optional[str], Field(description="The DAG's name (its id, or 'name#N' when used "
                                                 "before); omit for a generated one.")] = None,
            agent_run_id: Annotated[Optional[str], Field(description="Groups several submissions into one agent "
                                                         "run (list_agent_runs, agent_run_status).")] = None,
    ) -> dict[str, Any]:
        """Submits several jobs at once as one DAG: all are accepted or none (a cycle, an unknown parent or a
        duplicate id refuses the whole). A job starts when all its parents completed. Returns the DAG's id in
        "dag" and the ids created in "ids" (the jobs, then a gate 'hitl-gate-<id>' for each job with
        hitl_message). Follow it with wait_dag and dag_status."""
        return submit(name, jobs, agent_run_id)

    @server.tool(annotations=READ)
    @tool
    def job_status(job_id: JobId, run: Run = None) -> dict[str, Any]:
        """A job's state (PENDING BLOCKED SCHEDULED QUEUED RUNNING WAITING_APPROVAL, or final: COMPLETED FAILED
        CANCELLED DEAD SKIPPED), worker, exit code, reason, attempt and times (Unix epoch milliseconds)."""
        info = client.get_job(job_id, run=run)
        if info is None:
            raise ToolError("no job %r; list_jobs shows the jobs" % job_id)
        return views.job(info)

    @server.tool(annotations=READ)
    @tool
    def job_logs(job_id: JobId,
                 tail_lines: Annotated[Optional[int], Field(ge=1, description="Only the last N lines.")] = None,
                 offset: Annotated[Optional[int], Field(ge=0, description="Read from this byte offset instead of "
                                                        "the end: pass the previous call's next_offset to get only "
                                                        "what was written since.")] = None,
                 max_bytes: Annotated[int, Field(ge=1, le=MAX_LOG_BYTES, description="At most this many bytes "
                                                 "(from the end, or from offset).")] = 64 * 1024,
                 run: Run = None) -> dict[str, Any]:
        """A job's output (stdout and stderr as written): by default its last max_bytes; with tail_lines its last
        N lines; with offset what follows that byte offset. Returns "text", "start" and "next_offset" (byte
        offsets), "truncated" (earlier output was left out) and "complete" (the job has ended and this is the
        end of its log)."""
        if offset is not None:
            data, next_offset, complete = client.read_log(job_id, offset, max_bytes, run)
            start = offset
        else:
            data, start, next_offset, complete = client.log_tail(job_id, max_bytes, run)
        text = data.decode("utf-8", "replace")
        truncated = offset is None and start > 0
        if tail_lines is not None:
            lines = text.splitlines(keepends=True)
            truncated = truncated or len(lines) > tail_lines
            text = "".join(lines[-tail_lines:])
        return {"job_id": job_id, "text": text, "start": start, "next_offset": next_offset,
                "truncated": truncated, "complete": complete}

    @server.tool(annotations=READ)
    @tool
    def wait_job(job_id: JobId, timeout_seconds: WaitSeconds = 30) -> dict[str, Any]:
        """Waits until the job ends (COMPLETED FAILED CANCELLED DEAD SKIPPED; a SERVICE: until it is up) or
        timeout_seconds pass. Returns "finished" (false: still running when the time was up; call again),
        "state" and the job."""
        try:
            client.wait(job_id, timeout=timeout_seconds)
            finished = True
        except TitanTimeoutError:
            finished = False
        info = client.get_job(job_id)
        if info is None:
            raise ToolError("no job %r; list_jobs shows the jobs" % job_id)
        return {"finished": finished, "state": info.state, "job": views.job(info)}

    @server.tool(annotations=READ)
    @tool
    def list_jobs(state: Annotated[Optional[str], Field(description="Only jobs in this state, e.g. RUNNING, "
                                                        "FAILED, WAITING_APPROVAL.")] = None,
                  dag: Annotated[Optional[str], Field(description="Only the jobs of this DAG id.")] = None,
                  worker: Annotated[Optional[str], Field(description="Only jobs that ran on this worker.")] = None,
                  requirement: Annotated[Optional[str], Field(description="Only jobs needing this "
                                                              "capability.")] = None,
                  id_contains: Annotated[Optional[str], Field(description="Only ids containing this text "
                                                              "(any case).")] = None,
                  limit: Limit = 50) -> dict[str, Any]:
        """Jobs and gates, newest first, filtered as given. Returns "jobs"."""
        jobs = client.list_jobs(state=state, limit=limit, dag=dag, worker=worker, requirement=requirement,
                                id_contains=id_contains)
        return {"jobs": [views.job(j) for j in jobs]}

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True))
    @tool
    def cancel_job(job_id: JobId) -> dict[str, Any]:
        """Stops a job: a waiting one is CANCELLED at once, a running one is killed (whole process tree) and
        reports CANCELLED once it has ended (wait_job for that); one that already ended keeps its state.
        Returns the state after the request."""
        return {"job_id": job_id, "state": client.stop_job(job_id)}
