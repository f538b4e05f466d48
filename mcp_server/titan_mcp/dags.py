# The DAG tools: YAML pipelines, a DAG's status, waiting for one, DAGs and agent runs, cancelling a DAG, and
# the decisions of human-in-the-loop gates.
import threading
from typing import Annotated, Any, Optional

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field
from titan_sdk import TitanClient, TitanTimeoutError

from . import views
from .errors import reported
from .params import READ, DagId, Limit, WaitSeconds

GateId = Annotated[str, Field(description="The gate's id: 'hitl-gate-<job id>' (list_jobs with state "
                                          "WAITING_APPROVAL shows the gates waiting).")]


def register(server: MCPServer, client: TitanClient, submitting: threading.Lock) -> None:
    """Adds the DAG, run and gate tools. `submitting` is held around each submission (see jobs.register)."""
    tool = reported(client.credential)
    principal = client.credential.principal if client.credential is not None else None

    @server.tool()
    @tool
    def submit_pipeline(
            yaml: Annotated[Optional[str], Field(description="The pipeline as YAML text (Titan format: name, "
                                                 "agent_run_id, jobs with id, script, dependencies, ...; or Joblet "
                                                 "format), the same YAML `titan submit` takes.")] = None,
            path: Annotated[Optional[str], Field(description="Or: the path of a pipeline file on the machine this "
                                                 "server runs on.")] = None,
            folder: Annotated[Optional[str], Field(description="With yaml: the folder its script paths are "
                                                   "relative to (default: this server's working "
                                                   "directory).")] = None,
    ) -> dict[str, Any]:
        """Submits a YAML pipeline as one DAG; each job's script is read from the pipeline's
        folder and sent with it. A wrong file is refused before anything is sent, with its line. Returns the DAG's
        id in "dag"; follow it with wait_dag and dag_status."""
        if (yaml is None) == (path is None):
            raise ToolError("give the pipeline either as `yaml` (its text) or as `path` (a file), not both or "
                            "neither")
        with submitting:
            if path is not None:
                return {"dag": client.submit_yaml(path)}
            return {"dag": client.submit_yaml_text(yaml, folder or ".")}

    @server.tool(annotations=READ)
    @tool
    def dag_status(dag_id: DagId) -> dict[str, Any]:
        """A DAG: its state (RUNNING COMPLETED FAILED CANCELLED), counts (jobs, done, failed), agent run, times,
        and each of its jobs and gates with its state."""
        dag = client.get_dag(dag_id)
        if dag is None:
            raise ToolError("no DAG %r; list_dags shows the DAGs" % dag_id)
        return views.dag(dag)

    @server.tool(annotations=READ)
    @tool
    def wait_dag(dag_id: DagId, timeout_seconds: WaitSeconds = 30) -> dict[str, Any]:
        """Waits until every job of the DAG has ended (a gate waits for its decision) or timeout_seconds pass.
        Returns "finished" (false: still running when the time was up; call again) and the DAG as dag_status
        shows it."""
        try:
            dag, finished = client.wait_dag(dag_id, timeout=timeout_seconds), True
        except TitanTimeoutError:
            dag, finished = client.get_dag(dag_id), False
        if dag is None:
            raise ToolError("no DAG %r; list_dags shows the DAGs" % dag_id)
        return {"finished": finished, "state": dag["state"], "dag": views.dag(dag)}

    @server.tool(annotations=READ)
    @tool
    def list_dags(agent_run_id: Annotated[Optional[str], Field(description="Only the DAGs of this agent "
                                                               "run.")] = None,
                  limit: Limit = 50) -> dict[str, Any]:
        """DAGs, newest first: id, name, state, counts (jobs, done, failed), agent run, times. Returns "dags"."""
        return {"dags": [views.dag(d) for d in client.list_dags(agent_run_id=agent_run_id, limit=limit)]}

    @server.tool(annotations=READ)
    @tool
    def list_agent_runs(limit: Limit = 50) -> dict[str, Any]:
        """Agent runs (DAGs submitted with one agent_run_id), newest first, with their state and counts over all
        their DAGs. Returns "runs"."""
        return {"runs": [views.dag(r) for r in client.list_runs(limit=limit)]}

    @server.tool(annotations=READ)
    @tool
    def agent_run_status(run_id: Annotated[str, Field(description="The agent_run_id.")]) -> dict[str, Any]:
        """An agent run with each of its DAGs (oldest first) and their jobs."""
        run = client.get_run(run_id)
        if run is None:
            raise ToolError("no agent run %r; list_agent_runs shows them" % run_id)
        return views.dag(run)

    @server.tool(annotations=ToolAnnotations(destructive_hint=True, idempotent_hint=True))
    @tool
    def cancel_dag(dag_id: DagId) -> dict[str, Any]:
        """Stops every unfinished job of the DAG: waiting ones are CANCELLED at once, running ones are killed
        (wait_dag for them to end). Returns the DAG."""
        return views.dag(client.cancel_dag(dag_id))

    @server.tool()
    @tool
    def approve_gate(gate_id: GateId) -> dict[str, Any]:
        """Approves a human-in-the-loop gate that waits for a decision: the jobs after it may run. Returns the
        gate's state (COMPLETED)."""
        return {"gate_id": gate_id, "state": client.approve(gate_id, by=principal)}

    @server.tool()
    @tool
    def reject_gate(gate_id: GateId,
                    reason: Annotated[str, Field(min_length=1, description="Why; recorded with the "
                                                 "gate.")]) -> dict[str, Any]:
        """Rejects a human-in-the-loop gate: it FAILS with the reason and the jobs after it are SKIPPED. Returns
        the gate's state (FAILED)."""
        return {"gate_id": gate_id, "state": client.reject(gate_id, reason, by=principal)}
