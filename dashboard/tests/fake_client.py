# A stand-in for TitanClient in the API tests: canned jobs and DAGs, a log in memory, and a record of the
# actions it was asked to take. `down = True` makes every call time out as an unreachable broker does;
# `refusal` (an SDK error) is what every action raises, as a broker that refuses it does.
from typing import Any, Dict, List, Optional

from titan_sdk.errors import JobNotFoundError, TitanTimeoutError
from titan_sdk.job import JobInfo
from titan_sdk.job_list import JobPage
from titan_dashboard.views import JobFilter


def job(job_id: str, state: str = "COMPLETED", **fields: Any) -> JobInfo:
    base = {"id": job_id, "state": state, "file": "x.sh", "requirement": "GENERAL", "priority": 1, "attempt": 1,
            "parents": [], "submitted_ms": 1000}
    base.update(fields)
    return JobInfo.from_wire(base)


class FakeClient:
    def __init__(self, jobs: List[JobInfo] = (), log: bytes = b""):
        self.jobs = list(jobs)
        self.log = log
        self.actions: List[tuple] = []
        self.down = False
        self.closed = False
        self.pages_asked: List[Dict[str, Any]] = []
        self.files: Dict[tuple, bytes] = {}
        self.refusal: Optional[Exception] = None

    def _check(self) -> None:
        if self.down:
            raise TitanTimeoutError("no reply from tcp://127.0.0.1:1 within 4 s")

    def close(self) -> None:
        self.closed = True

    def get_stats(self) -> Dict[str, Any]:
        self._check()
        return {"workers": [{"name": "w1", "host": "h", "slots": 4, "busy": 1, "capabilities": ["GENERAL"],
                             "state": "READY", "running": ["a"], "seen_ms_ago": 5}], "queued": 2, "running": 1}

    def list_jobs(self, state: Optional[str] = None, limit: int = 100, job_type: Optional[str] = None):
        self._check()
        return [j for j in self.jobs if state is None or j.state == state][:limit]

    def list_jobs_page(self, limit: int = 100, before_seq: Optional[int] = None, **filters: Any) -> JobPage:
        """As the broker pages: `self.jobs` is newest first, and a job's seq is len(jobs) - its index."""
        self._check()
        self.pages_asked.append(dict(filters, limit=limit, before_seq=before_seq))
        flt = JobFilter(filters.get("state"), filters.get("dag"), filters.get("worker"), filters.get("requirement"),
                        filters.get("id_contains"), filters.get("since_ms"), filters.get("until_ms"))
        seqs = [(len(self.jobs) - i, j) for i, j in enumerate(self.jobs)]
        rows = [(seq, j) for seq, j in seqs if (before_seq is None or seq < before_seq) and flt.matches(j.to_dict())]
        return JobPage([j for _, j in rows[:limit]], rows[limit - 1][0] if len(rows) > limit else None)

    def download_artifact(self, name: str, save_path=None, space: str = "uploads"):
        self._check()
        data = self.files.get((space, name))
        if data is None:
            return None
        with open(save_path, "wb") as out:
            out.write(data)
        return {"space": space, "name": name, "size": len(data)}

    def put_artifact(self, filepath, space: str, name: str):
        with open(filepath, "rb") as f:
            self.files[(space, name)] = f.read()
        self.actions.append(("put", space, name))
        return {"space": space, "name": name, "size": len(self.files[(space, name)])}

    def rerun_dag(self, dag_id: str) -> str:
        self.actions.append(("rerun", dag_id))
        return dag_id + "#2"

    def enable_schedule(self, name: str, enabled: bool = True) -> bool:
        self.actions.append(("enable" if enabled else "disable", name))
        return True

    def get_job(self, job_id: str, run: Optional[int] = None):
        self._check()
        return next((j for j in self.jobs if j.id == job_id), None)

    def job_history(self, job_id: str):
        return [self.get_job(job_id)]

    def read_log(self, job_id: str, offset: int = 0, max_bytes: int = 1 << 21, run=None):
        self._check()
        data = self.log[offset:offset + max_bytes]
        return data, offset + len(data), True

    def _act(self, *action: Any) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.actions.append(action)

    def stop_job(self, job_id: str) -> str:
        self._act("stop", job_id)
        return "CANCELLED"

    def restart_service(self, job_id: str) -> JobInfo:
        found = self.get_job(job_id)
        if found is None:
            raise JobNotFoundError("no service %r; see `titan services`" % job_id)
        self._act("restart", job_id)
        return job(job_id, "RUNNING", job_type="SERVICE", ready=False, restarts=found.restarts,
                   reason="restarting (requested)")

    def approve(self, gate_id: str, by: Optional[str] = None) -> str:
        self.actions.append(("approve", gate_id, by))
        return "COMPLETED"

    def reject(self, gate_id: str, reason: Optional[str] = None, by: Optional[str] = None) -> str:
        self.actions.append(("reject", gate_id, reason, by))
        return "FAILED"

    def get_dag(self, dag_id: str):
        self._check()
        members = [j for j in self.jobs if j.dag == dag_id]
        if not members:
            return None
        return {"id": dag_id, "name": dag_id, "state": "RUNNING", "agent_run_id": None, "jobs": members,
                "done": 0, "failed": 0, "submitted_ms": 1000, "finished_ms": None}
