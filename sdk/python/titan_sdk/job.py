# TitanJob: one unit of work, with every constructor parameter of the SDK reference (seed 001).
# Submission (TitanClient.submit_job / submit_dag) comes with the broker; this is the plain description.
from typing import Any, List, Optional


class TitanJob:
    """A job to run: `job_id` (alias `id`) and `filename` are required, the rest have the seed's defaults."""

    def __init__(self, job_id: Optional[str] = None, filename: Optional[str] = None, job_type: str = "RUN_PAYLOAD",
                 args: Optional[str] = None, parents: Optional[List[str]] = None, port: int = 0,
                 is_archive: bool = False, priority: int = 1, delay: int = 0, affinity: bool = False,
                 requirement: str = "GENERAL", hitl_message: Optional[str] = None, max_wait_seconds: int = 172800,
                 *, id: Optional[str] = None):
        if id is not None and job_id is not None and id != job_id:
            raise TypeError("TitanJob got job_id=%r and id=%r; pass only one" % (job_id, id))
        job_id = job_id if job_id is not None else id
        if not job_id:
            raise TypeError("TitanJob needs a job_id (or id), e.g. TitanJob(job_id=\"train_v1\", filename=...)")
        if not filename:
            raise TypeError("TitanJob %r needs a filename: the script or artifact to run" % job_id)
        self.job_id = job_id
        self.filename = filename
        self.job_type = job_type
        self.args = args
        self.parents = list(parents) if parents else []
        self.port = port
        self.is_archive = is_archive
        self.priority = priority
        self.delay = delay
        self.affinity = affinity
        self.requirement = requirement
        self.hitl_message = hitl_message
        self.max_wait_seconds = max_wait_seconds

    @property
    def id(self) -> str:
        return self.job_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TitanJob) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return "TitanJob(%s)" % ", ".join("%s=%r" % kv for kv in vars(self).items())
