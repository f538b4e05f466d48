# What the API answers, as pure functions of what the broker reported: no sockets, no clock (callers pass
# now_ms, the server's time), so the unit tests feed them plain data. Secrets are masked here once more,
# whatever the broker sent.
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional

MAX_PAGE_SIZE = 500
THROUGHPUT_MINUTES = 60
_SECRET = re.compile(r"^([^=]*)=.*$", re.S)


def job_row(info: Any) -> Dict[str, Any]:
    """A JobInfo (or its dict) as JSON-ready data; secret environment entries only as NAME=****. With
    `limits_text` and `usage_text`, its limits and its last run's usage as the job page shows them."""
    row = dict(info.to_dict() if hasattr(info, "to_dict") else info)
    if row.get("secret_env"):
        row["secret_env"] = [_SECRET.sub(r"\1=****", entry) for entry in row["secret_env"]]
    row["limits_text"] = limits_text(row)
    row["usage_text"] = usage_text(row.get("usage"))
    return row


def _bytes(n: int) -> str:
    if n < 1024:
        return "%d B" % n
    value, unit = n / 1024.0, 0
    while value >= 1024 and unit < 3:
        value, unit = value / 1024.0, unit + 1
    return "%.1f %s" % (value, ("KiB", "MiB", "GiB", "TiB")[unit])


def limits_text(row: Dict[str, Any]) -> str:
    """"memory 64 MB, cpu 150% of a core, cores 0-1, io 1048576 B/s, processes 100" ("" without limits), as
    `titan status` writes it."""
    parts = []
    if row.get("max_memory"):
        parts.append("memory %d MB" % row["max_memory"])
    if row.get("max_cpu"):
        parts.append("cpu %d%% of a core" % row["max_cpu"])
    if row.get("cpu_cores"):
        parts.append("cores %s" % row["cpu_cores"])
    if row.get("max_iobps"):
        parts.append("io %d B/s" % row["max_iobps"])
    if row.get("max_processes"):
        parts.append("processes %d" % row["max_processes"])
    return ", ".join(parts)


def usage_text(usage: Optional[Dict[str, Any]]) -> str:
    """"peak memory 64.0 MiB, cpu 1.25 s, read 512 B, written 4.0 KiB" ("" when nothing was measured)."""
    if not usage:
        return ""
    parts = []
    if usage.get("peak_memory_bytes") is not None:
        parts.append("peak memory " + _bytes(usage["peak_memory_bytes"]))
    if usage.get("cpu_ms") is not None:
        parts.append("cpu %.2f s" % (usage["cpu_ms"] / 1000.0))
    if usage.get("io_read_bytes") is not None:
        parts.append("read " + _bytes(usage["io_read_bytes"]))
    if usage.get("io_write_bytes") is not None:
        parts.append("written " + _bytes(usage["io_write_bytes"]))
    return ", ".join(parts)


@dataclass
class JobFilter:
    """The Jobs page's filters; every field optional. `q` matches a part of the id (case-insensitive)."""
    state: Optional[str] = None
    dag: Optional[str] = None
    worker: Optional[str] = None
    requirement: Optional[str] = None
    q: Optional[str] = None
    since_ms: Optional[int] = None  # submitted at or after
    until_ms: Optional[int] = None  # submitted before

    @classmethod
    def from_query(cls, query: Dict[str, str]) -> "JobFilter":
        def text(name: str) -> Optional[str]:
            value = (query.get(name) or "").strip()
            return value or None

        def number(name: str) -> Optional[int]:
            value = text(name)
            if value is None:
                return None
            if not value.lstrip("-").isdigit():
                raise ValueError("%s=%r is not a number of Unix epoch milliseconds" % (name, value))
            return int(value)
        state = text("state")
        return cls(state.upper() if state else None, text("dag"), text("worker"), text("requirement"), text("q"),
                   number("since_ms"), number("until_ms"))

    def list_args(self) -> Dict[str, Any]:
        """The filters as keyword arguments of TitanClient.list_jobs_page (the broker applies them)."""
        return {"state": self.state, "dag": self.dag, "worker": self.worker, "requirement": self.requirement,
                "id_contains": self.q, "since_ms": self.since_ms, "until_ms": self.until_ms}

    def matches(self, job: Dict[str, Any]) -> bool:
        return ((self.state is None or job["state"] == self.state)
                and (self.dag is None or job.get("dag") == self.dag)
                and (self.worker is None or job.get("worker") == self.worker)
                and (self.requirement is None or job.get("requirement") == self.requirement)
                and (self.q is None or self.q.lower() in job["id"].lower())
                and (self.since_ms is None or job["submitted_ms"] >= self.since_ms)
                and (self.until_ms is None or job["submitted_ms"] < self.until_ms))


def page_size(text: Optional[str], default: int = 50) -> int:
    """The page size a query asked for, within 1 .. MAX_PAGE_SIZE."""
    size = int(text) if (text or "").isdigit() else default
    return max(1, min(size, MAX_PAGE_SIZE))


def cursor(text: Optional[str]) -> Optional[int]:
    """A page cursor from a query (the `next` of the page before); None for the newest page."""
    if not text:
        return None
    if not text.isdigit():
        raise ValueError("before=%r is not a page cursor: follow the page's 'older' link, or drop it for the newest"
                         % text)
    return int(text)


def jobs_page(jobs: Iterable[Any], size: int, next_cursor: Optional[int]) -> Dict[str, Any]:
    """A page of the Jobs table: its rows, and the cursor of the next (older) page, None at the oldest."""
    return {"rows": [job_row(j) for j in jobs], "size": size, "next": next_cursor}


def queue_depths(queued: Iterable[Dict[str, Any]]) -> Dict[str, int]:
    """QUEUED jobs per capability they need."""
    depths: Dict[str, int] = {}
    for job in queued:
        depths[job["requirement"]] = depths.get(job["requirement"], 0) + 1
    return dict(sorted(depths.items()))


def throughput(finished: Iterable[Dict[str, Any]], now_ms: int) -> List[int]:
    """Jobs finished in each of the last 60 minutes, oldest minute first."""
    counts = [0] * THROUGHPUT_MINUTES
    start = now_ms - THROUGHPUT_MINUTES * 60000
    for job in finished:
        at = job.get("finished_ms")
        if at is not None and start <= at < now_ms:
            counts[(at - start) // 60000] += 1
    return counts


def machine_metrics(machine: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """A worker's MachineStats in the units the Overview shows (percent, MiB, load as a number); a value the
    worker did not report is None; None when it reported no machine at all."""
    if not machine:
        return None

    def scaled(name: str, by: float) -> Optional[float]:
        value = machine.get(name)
        return None if value is None else value / by
    mib = 1024.0 * 1024.0
    return {"cpu_percent": scaled("cpu_permille", 10.0), "cpus": machine.get("cpus"),
            "mem_used_mb": scaled("mem_used_bytes", mib), "mem_total_mb": scaled("mem_total_bytes", mib),
            "load1": scaled("load1_milli", 1000.0), "disk_free_mb": scaled("disk_free_bytes", mib),
            "disk_total_mb": scaled("disk_total_bytes", mib),
            "gpus": [{"index": g["index"], "name": g["name"], "util_percent": g["util_pct"],
                      "mem_used_mb": g["mem_used_bytes"] / mib, "mem_total_mb": g["mem_total_bytes"] / mib}
                     for g in machine.get("gpus") or []]}


def workers_view(stats: Dict[str, Any], lost: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The live workers (READY or DRAINING) and, after them, those lost and not back, as state LOST; each with
    its machine's `metrics` (machine_metrics)."""
    live = [dict(w, metrics=machine_metrics(w.get("machine"))) for w in stats.get("workers", [])]
    names = {w["name"] for w in live}
    gone = [dict(w, state="LOST", busy=0, running=[], metrics=None)
            for name, w in sorted(lost.items()) if name not in names]
    return sorted(live, key=lambda w: w["name"]) + gone


def job_counts(stats: Dict[str, Any]) -> Dict[str, int]:
    names = ("pending", "blocked", "scheduled", "queued", "running", "completed", "failed", "unsatisfiable")
    return {name: int(stats.get(name) or 0) for name in names}


def with_time_left(row: Dict[str, Any], now_ms: int) -> Dict[str, Any]:
    """`row`, and when it is a gate waiting for a decision that expires, its `expires_in_ms`: the time left at
    now_ms by this server's clock (negative once past). A page counts down from it on its own monotonic clock,
    so a browser whose clock is wrong still shows the right time left."""
    if row.get("kind") == "GATE" and row.get("state") == "WAITING_APPROVAL" and row.get("expires_ms") is not None:
        row["expires_in_ms"] = row["expires_ms"] - now_ms
    return row


def read_only_state(stats: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The broker's read-only mode (its disk is full) from its STATS: {"reason", "since_ms"}; None when it may
    write."""
    if not stats.get("read_only"):
        return None
    return {"reason": stats.get("read_only_reason") or "its disk is full", "since_ms": stats.get("read_only_since_ms")}


def dag_graph(dag: Dict[str, Any], now_ms: int) -> Dict[str, Any]:
    """A DAG for drawing: its summary, a node per job or gate (gates with their time left at now_ms), an edge
    per parent inside the DAG."""
    jobs = [with_time_left(job_row(j), now_ms) for j in dag["jobs"]]
    ids = {j["id"] for j in jobs}
    edges = [{"source": p, "target": j["id"]} for j in jobs for p in j.get("parents") or [] if p in ids]
    summary = dict(dag, jobs=len(jobs))  # get_dag puts the job list where DagInfo has the count
    return {"dag": summary, "nodes": jobs, "edges": edges}


def pending_gates(jobs: Iterable[Any], now_ms: int) -> List[Dict[str, Any]]:
    """Gates waiting for a decision, oldest first, each with its time left at now_ms (with_time_left)."""
    rows = [with_time_left(job_row(j), now_ms) for j in jobs]
    gates = [j for j in rows if j.get("kind") == "GATE" and j["state"] == "WAITING_APPROVAL"]
    return sorted(gates, key=lambda j: j.get("started_ms") or j["submitted_ms"])
