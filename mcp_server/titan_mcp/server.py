# The MCP server: one TitanClient (the server's credential, so the broker checks every call against its role
# and audits it) behind the tools of jobs.py, dags.py and store.py, the resources of resources.py, and the
# cluster tools here. Tools run on worker threads (TitanClient is thread-safe; waits use their own sockets).
import threading
import time
from typing import Any

from mcp.server.mcpserver import MCPServer
from titan_sdk import TitanClient

from . import __version__, dags, jobs, resources, store
from .errors import reported
from .params import READ

INSTRUCTIONS = """\
Titan runs scripts as jobs on a cluster of workers: one-off jobs, DAGs (jobs with parents) and agent runs
that grow their graph over time. Submit with submit_job (script content inline, or a deployed script's name),
submit_dag or submit_pipeline (YAML); follow with wait_job / wait_dag, job_status / dag_status and job_logs.
A job with hitl_message gets a human approval gate 'hitl-gate-<id>': its children wait until approve_gate or
reject_gate. Jobs share state through TitanStore (store_* tools) and files through artifacts. This server acts
with one credential: ping says which principal and role; the broker refuses what that role may not do."""


def make_server(client: TitanClient) -> MCPServer:
    """The MCP server over `client` (not started: run it with run_stdio_async or http.serve)."""
    server = MCPServer("titan", title="Titan", instructions=INSTRUCTIONS, version=__version__)
    submitting = threading.Lock()
    _register_cluster_tools(server, client)
    jobs.register(server, client, submitting)
    dags.register(server, client, submitting)
    store.register(server, client)
    resources.register(server, client)
    return server


def _register_cluster_tools(server: MCPServer, client: TitanClient) -> None:
    tool = reported(client.credential)

    @server.tool(annotations=READ)
    @tool
    def ping() -> dict[str, Any]:
        """Checks that the cluster answers. Returns the broker's address, the round trip in milliseconds, how many
        workers are connected, and the principal and role this server acts as (what it may do)."""
        started = time.monotonic()
        stats = client.get_stats()
        credential = client.credential
        return {"broker": "%s:%d" % (client.host, client.port),
                "round_trip_ms": round((time.monotonic() - started) * 1000, 1),
                "workers": len(stats["workers"]),
                "principal": credential.principal if credential is not None else None,
                "role": credential.role if credential is not None else "(no keys: a keyless loopback cluster)"}

    @server.tool(annotations=READ)
    @tool
    def cluster_stats() -> dict[str, Any]:
        """The cluster now: each worker (name, slots, busy, capabilities, state, running jobs, machine load) and
        job counts (pending, blocked, scheduled, queued, running, unsatisfiable: queued with no worker able to
        run them, completed, failed)."""
        return client.get_stats()
