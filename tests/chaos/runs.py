# What the jobs' own records say: each run of a job (its attempt, pid, worker, start and end), and each
# duplicate start classified: a sequential re-run (at least once) or a copy that ran beside another one,
# with the fault that caused it. Pure functions over the record files and the fault log.
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from faults import BROKER_KILL, BROKER_STOP, DISK_FULL, OVERLAP_ALLOWED, WORKER_KILL, WORKER_STOP, Fault

BROKER_FAULTS = (BROKER_KILL, BROKER_STOP, DISK_FULL)
WORKER_FAULTS = (WORKER_KILL, WORKER_STOP)
CAUSE_SLACK_S = 2.0


@dataclass
class Run:
    """One start of a job, as the job recorded it."""

    attempt: int
    pid: int
    worker: str
    start: float
    done: Optional[float] = None
    beside_another: bool = False  # it found another copy of the job alive when it started


@dataclass
class Rerun:
    """A start of a job after its first: `run`, and `previous`, the copy before it (the one it ran beside
    when `overlap`); `cause` is the fault that explains it, None when none does."""

    job_id: str
    run: Run
    previous: Run
    overlap: bool
    cause: Optional[Fault]
    documented: bool = False  # an overlap docs/architecture.md allows (see overlap_documented)

    @property
    def stale(self) -> bool:
        """It started an earlier attempt than the copy before it: an assignment the broker had given away."""
        return self.run.attempt < self.previous.attempt

    def describe(self) -> str:
        prev, run = self.previous, self.run
        how = "ran beside" if self.overlap else "ran after"
        if self.stale:
            how = "started after the broker had given the job away, and " + how
        return ("%s: attempt %d (pid %d on %s, started %.3f) %s attempt %d (pid %d on %s, %.3f..%s); cause: %s"
                % (self.job_id, run.attempt, run.pid, run.worker, run.start, how, prev.attempt, prev.pid,
                   prev.worker, prev.start, "%.3f" % prev.done if prev.done else "killed",
                   self.cause.describe() if self.cause else "no fault"))


def read_runs(path: Path) -> List[Run]:
    """The runs recorded in one job's file, by start time. Lines: "<event> <id> <attempt> <pid> <worker> <t>"."""
    runs: Dict[int, Run] = {}
    beside = set()
    for line in path.read_text().splitlines() if path.exists() else []:
        event, _, attempt, pid, worker, t = line.split()
        pid = int(pid)
        if event == "overlap":
            beside.add(pid)
        elif event == "start":
            runs[pid] = Run(int(attempt), pid, worker, float(t), beside_another=pid in beside)
        elif event == "done" and pid in runs:
            runs[pid].done = float(t)
    return sorted(runs.values(), key=lambda r: r.start)


def _alive_before(runs: List[Run], run: Run) -> Run:
    """The copy `run` ran beside: the latest started earlier one that had not ended when it started."""
    earlier = [r for r in runs if r.start < run.start and r is not run]
    alive = [r for r in earlier if r.done is None or r.done > run.start]
    return (alive or earlier)[-1]


def overlap_documented(previous: Run, run: Run, faults: Iterable[Fault]) -> bool:
    """docs/architecture.md, "What is guaranteed": a copy runs on beside the next one only when its own worker
    was stopped or killed while it ran, that is, after it started and before the next copy did."""
    return any(f.kind in OVERLAP_ALLOWED and f.target == previous.worker and f.end >= previous.start
               and f.start <= run.start for f in faults)


def cause_of(previous: Run, run: Run, faults: Iterable[Fault]) -> Optional[Fault]:
    """The fault that explains `run` starting after `previous`: during [previous.start, run.start] or ended at
    most CAUSE_SLACK_S before it (a node that runs again acts at once), on previous's worker, else on the
    broker, else on run's worker (the latest of the first kind found). For the table, not the verdict."""
    during = [f for f in faults if f.start <= run.start and f.end + CAUSE_SLACK_S >= previous.start]
    on_previous = [f for f in during if f.kind in WORKER_FAULTS and f.target == previous.worker]
    on_broker = [f for f in during if f.kind in BROKER_FAULTS]
    on_run = [f for f in during if f.kind in WORKER_FAULTS and f.target == run.worker]
    for candidates in (on_previous, on_broker, on_run):
        if candidates:
            return max(candidates, key=lambda f: f.start)
    return None


def reruns(job_id: str, runs: List[Run], faults: List[Fault]) -> List[Rerun]:
    """Every start after the first, classified."""
    out = []
    for i, run in enumerate(runs[1:], 1):
        previous = _alive_before(runs, run) if run.beside_another else runs[i - 1]
        out.append(Rerun(job_id, run, previous, run.beside_another, cause_of(previous, run, faults),
                         run.beside_another and overlap_documented(previous, run, faults)))
    return out


def repeated_attempts(runs: List[Run]) -> List[int]:
    """Attempt numbers started more than once: the broker gives each start a new attempt."""
    seen, repeated = set(), []
    for r in runs:
        if r.attempt in seen:
            repeated.append(r.attempt)
        seen.add(r.attempt)
    return repeated


def running_during(fault: Fault, runs_by_job: Dict[str, List[Run]]) -> int:
    """Jobs with a copy alive during `fault` (on its worker, for a worker fault)."""
    count = 0
    for runs in runs_by_job.values():
        for i, r in enumerate(runs):
            ended = r.done or (runs[i + 1].start if i + 1 < len(runs) else r.start)
            if r.start <= fault.end and ended >= fault.start and (
                    fault.kind not in WORKER_FAULTS or r.worker == fault.target):
                count += 1
                break
    return count
