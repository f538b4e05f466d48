# The TitanClient calls that list jobs: one page at a time behind a cursor, filtered by the broker
# (JOB_LIST), so a client pages through 100,000 jobs without fetching them all. A mixin: TitanClient
# provides _broker_call, and every method here is as thread-safe as it.
import dataclasses
from typing import List, Optional

from .job import JobInfo
from .protocol import MsgType

MAX_PAGE = 10000  # the most jobs one JOB_LIST returns


@dataclasses.dataclass
class JobPage:
    """One page of jobs, newest first. `next_before_seq`: pass it as `before_seq` for the next (older) page;
    None when no older job matches."""
    jobs: List[JobInfo]
    next_before_seq: Optional[int] = None


class JobListCalls:
    def list_jobs(self, state: Optional[str] = None, limit: int = 100, job_type: Optional[str] = None, *,
                  dag: Optional[str] = None, worker: Optional[str] = None, requirement: Optional[str] = None,
                  id_contains: Optional[str] = None, since_ms: Optional[int] = None,
                  until_ms: Optional[int] = None) -> List[JobInfo]:
        """Jobs, newest first, at most `limit`; only those in `state` (e.g. "RUNNING") when given, of `job_type`
        ("SERVICE" or "RUN_PAYLOAD"), of DAG `dag`, that ran on `worker`, that need capability `requirement`,
        whose id contains `id_contains` (case-insensitive), submitted at or after `since_ms` and before
        `until_ms` (Unix epoch milliseconds). For more than 10,000 jobs, page with list_jobs_page."""
        return self.list_jobs_page(limit, state=state, job_type=job_type, dag=dag, worker=worker,
                                   requirement=requirement, id_contains=id_contains, since_ms=since_ms,
                                   until_ms=until_ms).jobs

    def list_jobs_page(self, limit: int = 100, before_seq: Optional[int] = None, *, state: Optional[str] = None,
                       job_type: Optional[str] = None, dag: Optional[str] = None, worker: Optional[str] = None,
                       requirement: Optional[str] = None, id_contains: Optional[str] = None,
                       since_ms: Optional[int] = None, until_ms: Optional[int] = None) -> JobPage:
        """One page of at most `limit` (1 .. 10,000) jobs matching the filters of list_jobs, newest first, older
        than `before_seq` (a previous page's next_before_seq) when given. The broker examines a bounded number
        of jobs per request; this asks again from where it stopped until the page is full or no job is left."""
        if not 1 <= int(limit) <= MAX_PAGE:
            raise ValueError("limit=%r: a page holds 1 .. %d jobs; page with before_seq for more" % (limit, MAX_PAGE))
        jobs: List[JobInfo] = []
        cursor = before_seq
        while True:
            reply = self._broker_call(
                MsgType.JOB_LIST, state=state.upper() if state else None, limit=int(limit) - len(jobs),
                job_type=job_type.upper() if job_type else None, before_seq=cursor, dag=dag or None,
                worker=worker or None, requirement=requirement or None, id_contains=id_contains or None,
                submitted_since_ms=since_ms, submitted_until_ms=until_ms).fields
            jobs.extend(JobInfo.from_wire(j) for j in reply["jobs"])
            cursor = reply.get("next_before_seq") if reply.get("truncated") else None
            if cursor is None or len(jobs) >= int(limit):
                return JobPage(jobs, cursor)
