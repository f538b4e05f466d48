# client.monitoring: the Joblet SDK's MonitoringService (seed 003) on Titan. Joblet watches one server;
# a Titan cluster has many workers, so the system status is the cluster's (CPU and memory summed over the
# workers' machines) with each worker's own beside it. The numbers are what each worker's last heartbeat
# reported (MachineStats, read from /proc and statvfs on its machine).
import datetime
import time
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional

if TYPE_CHECKING:  # pragma: no cover
    from .client import TitanClient


def _percent(part: Optional[int], whole: Optional[int]) -> Optional[float]:
    return 100.0 * part / whole if part is not None and whole else None


def worker_status(worker: Dict[str, Any]) -> Dict[str, Any]:
    """One worker (a STATS WorkerInfo dict) in the shape of Joblet's system status."""
    m = worker.get("machine") or {}
    cpu = m.get("cpu_permille")
    disk_total, disk_free = m.get("disk_total_bytes"), m.get("disk_free_bytes")
    disk_used = disk_total - disk_free if disk_total is not None and disk_free is not None else None
    return {
        "name": worker["name"], "host": worker.get("host"), "state": worker.get("state"),
        "available": worker.get("state") == "READY",
        "cpu": {"usage_percent": cpu / 10.0 if cpu is not None else None, "cores": m.get("cpus"),
                "load_average": [v / 1000.0 if v is not None else None
                                 for v in (m.get("load1_milli"), m.get("load5_milli"), m.get("load15_milli"))]},
        "memory": {"usage_percent": _percent(m.get("mem_used_bytes"), m.get("mem_total_bytes")),
                   "used_bytes": m.get("mem_used_bytes"), "total_bytes": m.get("mem_total_bytes")},
        "disks": [{"device": "%s:data" % worker["name"], "usage_percent": _percent(disk_used, disk_total),
                   "free_bytes": disk_free, "total_bytes": disk_total}] if disk_total else [],
        "gpus": [dict(g) for g in m.get("gpus") or []],
        "jobs": {"slots": worker.get("slots"), "busy": worker.get("busy"), "running": list(worker.get("running") or [])},
        # Titan's workers report machine totals, not a process table.
        "processes": {"top_by_cpu": [], "top_by_memory": []},
    }


def cluster_status(stats: Dict[str, Any]) -> Dict[str, Any]:
    """The cluster (a STATS reply dict) in the shape of Joblet's system status, with "workers" per worker."""
    workers = [worker_status(w) for w in stats.get("workers", [])]
    cores = sum(w["cpu"]["cores"] or 0 for w in workers if w["cpu"]["usage_percent"] is not None)
    busy = sum((w["cpu"]["usage_percent"] or 0) * (w["cpu"]["cores"] or 0) for w in workers)
    used = sum(w["memory"]["used_bytes"] or 0 for w in workers)
    total = sum(w["memory"]["total_bytes"] or 0 for w in workers)
    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "available": any(w["available"] for w in workers) and not stats.get("read_only"),
        "read_only_reason": stats.get("read_only_reason"),
        "cpu": {"usage_percent": busy / cores if cores else None, "cores": cores},
        "memory": {"usage_percent": _percent(used, total) if total else None, "used_bytes": used,
                   "total_bytes": total},
        "disks": [d for w in workers for d in w["disks"]],
        "processes": {"top_by_cpu": [], "top_by_memory": []},
        "jobs": {k: stats.get(k) for k in ("queued", "running", "completed", "failed", "unsatisfiable")},
        "workers": workers,
    }


class MonitoringService:
    """Joblet's MonitoringService (client.monitoring): the cluster's machines as the workers report them."""

    def __init__(self, client: "TitanClient"):
        self._client = client

    def get_system_status(self, worker: Optional[str] = None) -> Dict[str, Any]:
        """The cluster's status: cpu.usage_percent (over every worker's cores), memory.usage_percent, disks (each
        worker's data disk), available (a worker accepts jobs and the broker is writable), jobs (counts), and
        "workers" (each worker's own). With `worker`, that worker's status alone (KeyError if unknown)."""
        status = cluster_status(self._client.get_stats())
        if worker is None:
            return status
        for w in status["workers"]:
            if w["name"] == worker:
                w["timestamp"] = status["timestamp"]
                return w
        raise KeyError("no worker %r; get_system_status()['workers'] lists them" % worker)

    def stream_system_metrics(self, interval_seconds: int = 5,
                              metric_types: Optional[List[str]] = None) -> Iterator[Dict[str, Any]]:
        """get_system_status() every `interval_seconds`, forever (stop iterating to end it); `metric_types`
        keeps only those keys (e.g. ["cpu", "memory"]) beside timestamp and available."""
        if interval_seconds <= 0:
            raise ValueError("interval_seconds must be positive; got %r" % interval_seconds)
        while True:
            status = self.get_system_status()
            if metric_types:
                status = {k: v for k, v in status.items() if k in set(metric_types) | {"timestamp", "available"}}
            yield status
            time.sleep(interval_seconds)
