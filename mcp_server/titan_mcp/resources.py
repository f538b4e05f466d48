# Resources: what a client may read (and attach to a conversation) without a tool call: a job's log and
# status, a DAG's status, the cluster's stats. URI templates: titan://jobs/{job_id}/log, titan://jobs/{job_id},
# titan://dags/{dag_id} (a DAG id "name#2" is written name%232).
import json
from typing import Any, Optional, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from titan_sdk import TitanClient

from . import views
from .errors import resource_reported

LOG_BYTES = 1 << 20  # a log resource is the last MiB of the log
T = TypeVar("T")


def _json(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True)


def _found(value: Optional[T], what: str, lister: str) -> T:
    """`value`, or ResourceNotFoundError naming `what` and the tool that lists what exists."""
    if value is None:
        raise ResourceNotFoundError("no %s; the %s tool shows what there is" % (what, lister))
    return value


def register(server: MCPServer, client: TitanClient) -> None:
    resource = resource_reported(client.credential)

    @server.resource("titan://jobs/{job_id}/log", name="job-log", mime_type="text/plain",
                     description="A job's output (stdout and stderr as written), its last MiB.")
    @resource
    def job_log(job_id: str) -> str:
        _found(client.get_job(job_id), "job %r" % job_id, "list_jobs")
        return client.log_tail(job_id, LOG_BYTES)[0].decode("utf-8", "replace")

    @server.resource("titan://jobs/{job_id}", name="job", mime_type="application/json",
                     description="A job's status: state, worker, exit code, reason, times.")
    @resource
    def job(job_id: str) -> str:
        return _json(views.job(_found(client.get_job(job_id), "job %r" % job_id, "list_jobs")))

    @server.resource("titan://dags/{dag_id}", name="dag", mime_type="application/json",
                     description="A DAG's status: state, counts and each job's state.")
    @resource
    def dag(dag_id: str) -> str:
        return _json(views.dag(_found(client.get_dag(dag_id), "DAG %r" % dag_id, "list_dags")))

    @server.resource("titan://cluster/stats", name="cluster-stats", mime_type="application/json",
                     description="Workers (slots, busy, capabilities, state) and job counts per state.")
    @resource
    def cluster_stats() -> str:
        return _json(client.get_stats())
