# The end-of-run checks of a chaos run, each returning the failures it found as sentences (empty: passed):
# every accepted job reached one final state and kept it, none was lost, its record agrees with what the
# broker says, no job ended twice on the event feed, and every acknowledged store write reads back.
import time
from typing import Dict, Iterable, List, Optional, Tuple

from runs import Run, repeated_attempts
from titan_sdk import TitanClient
from titan_sdk.errors import TitanError, TitanTimeoutError
from titan_sdk.job import FINAL_STATES, JobInfo

# A job that exits 0 ends COMPLETED; DEAD when its worker was lost 3 times (docs/architecture.md).
EXPECTED_STATES = ("COMPLETED", "DEAD")
POLL_S = 0.5
STORE_FAILURE = "store key"


def get_jobs(client: TitanClient, ids: Iterable[str]) -> Dict[str, Optional[JobInfo]]:
    """id -> the broker's JobInfo (None: it does not know the id). Asks again after a timeout."""
    out = {}
    for job_id in ids:
        for _ in range(10):
            try:
                out[job_id] = client.get_job(job_id)
                break
            except TitanTimeoutError:
                continue
        else:
            raise TitanError("the broker did not answer JOB_GET %s ten times" % job_id)
    return out


def wait_final(client: TitanClient, ids: List[str], deadline_s: float) -> Tuple[Dict[str, Optional[JobInfo]], float]:
    """Waits until every job of `ids` is final (or unknown: lost), within `deadline_s`; returns the last
    answers and the seconds it took."""
    start = time.monotonic()
    infos: Dict[str, Optional[JobInfo]] = {}
    pending = list(ids)
    while True:
        infos.update(get_jobs(client, pending))
        pending = [i for i in pending if infos[i] is not None and infos[i].state not in FINAL_STATES]
        if not pending or time.monotonic() - start > deadline_s:
            return infos, time.monotonic() - start
        time.sleep(POLL_S)


def check_final(infos: Dict[str, Optional[JobInfo]]) -> List[str]:
    failures = []
    for job_id, info in sorted(infos.items()):
        if info is None:
            failures.append("LOST: accepted job %s is unknown to the broker" % job_id)
        elif info.state not in FINAL_STATES:
            failures.append("job %s is still %s after the drain deadline: %s" % (job_id, info.state, info.reason))
        elif info.state not in EXPECTED_STATES:
            failures.append("job %s ended %s (expected one of %s): %s"
                            % (job_id, info.state, "/".join(EXPECTED_STATES), info.reason))
        elif info.run != 1:
            failures.append("job %s has run %d: its id was accepted more than once" % (job_id, info.run))
    return failures


def check_records(infos: Dict[str, Optional[JobInfo]], runs_by_job: Dict[str, List[Run]]) -> List[str]:
    """The jobs' own records against the broker: a COMPLETED job's final attempt ran to its end; no attempt
    started twice; nothing started after the broker's last attempt."""
    failures = []
    for job_id, info in sorted(infos.items()):
        if info is None:
            continue
        runs = runs_by_job.get(job_id, [])
        if info.state == "COMPLETED" and not any(r.attempt == info.attempt and r.done for r in runs):
            failures.append("job %s is COMPLETED at attempt %d, but no run of that attempt recorded its end: %s"
                            % (job_id, info.attempt, runs))
        for attempt in repeated_attempts(runs):
            failures.append("job %s: attempt %d started more than once: %s" % (job_id, attempt, runs))
        late = [r for r in runs if r.attempt > info.attempt]
        if late:
            failures.append("job %s: attempt(s) %s started after the broker's last attempt %d"
                            % (job_id, [r.attempt for r in late], info.attempt))
    return failures


def check_events(final_events: Dict[str, List[Tuple[str, int]]], infos: Dict[str, Optional[JobInfo]]) -> List[str]:
    """No job was published final twice, nor final in a state other than the one it kept."""
    failures = []
    for job_id, finals in sorted(final_events.items()):
        info = infos.get(job_id)
        if len(finals) > 1:
            failures.append("job %s was published final %d times: %s" % (job_id, len(finals), finals))
        if info is not None and any(state != info.state for state, _ in finals):
            failures.append("job %s was published %s but the broker keeps %s" % (job_id, finals, info.state))
    return failures


def check_unchanged(before: Dict[str, Optional[JobInfo]], after: Dict[str, Optional[JobInfo]]) -> List[str]:
    """A broker restart changed no final job (its state, attempt and run are durable)."""
    failures = []
    for job_id, old in sorted(before.items()):
        new = after.get(job_id)
        if old is None:
            continue
        if new is None or (new.state, new.attempt, new.run) != (old.state, old.attempt, old.run):
            failures.append("job %s was %s (attempt %d) before a broker restart and %s after it"
                            % (job_id, old.state, old.attempt,
                               "unknown" if new is None else "%s (attempt %d)" % (new.state, new.attempt)))
    return failures


def check_store(client: TitanClient, acked: Dict[str, str]) -> List[str]:
    """Every put answered STORE_OK reads back with its value."""
    failures = []
    for key, value in sorted(acked.items()):
        got = client.store_get(key)
        if got != value:
            failures.append("%s %s was acknowledged as %r but reads %r" % (STORE_FAILURE, key, value, got))
    return failures
