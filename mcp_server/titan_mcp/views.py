# What tools return: jobs, DAGs and runs as plain JSON-able dicts, without the fields the broker left empty
# (an LLM reads every token), and store values as text.
from typing import Any, Optional, Union

from titan_sdk import JobInfo


def job(info: JobInfo) -> dict[str, Any]:
    """A job (or gate) with the fields the broker set: id, state, file, worker, exit_code, reason, times (Unix
    epoch milliseconds), dag, and for a gate kind "GATE", message, expires_ms, decided_by."""
    return {k: v for k, v in info.to_dict().items() if v is not None}


def dag(record: dict[str, Any]) -> dict[str, Any]:
    """A DAG or agent run as the SDK reports it, its jobs (when listed) as job() shows them."""
    out = {k: v for k, v in record.items() if v is not None}
    if isinstance(out.get("jobs"), list):
        out["jobs"] = [job(j) for j in out["jobs"]]
    if isinstance(out.get("dags"), list):
        out["dags"] = [dag(d) for d in out["dags"]]
    return out


def text(value: Union[str, bytes, None]) -> Optional[str]:
    """A TitanStore value as text (bytes as UTF-8, invalid bytes replaced)."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
