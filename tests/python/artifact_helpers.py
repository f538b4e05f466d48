"""Helpers of the artifact tests (test_artifacts.py, test_artifact_safety.py); their fixtures
`elsewhere` and `raw` are in conftest.py."""
import hashlib
import resource

from titan_sdk import TitanJob

DEADLINE_S = 60
MIB = 1024 * 1024


def sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(MIB), b""):
            h.update(piece)
    return h.hexdigest()


def names(client, space=None):
    return {(a["space"], a["name"]) for a in client.list_artifacts(space)}


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def run(client, job: TitanJob) -> str:
    """Submits `job`, waits for it to end and returns its final state."""
    client.submit_job(job)
    return client.wait(job.job_id, timeout=DEADLINE_S)
