# The per-fault table of a chaos run (markdown): per kind of fault, how many were injected, how many jobs
# had a copy running during them, the re-runs and overlapping copies they caused, the submissions and
# store writes left without an answer, and the jobs lost (always 0 in a passing run).
from dataclasses import dataclass, field
from typing import Dict, List, Sequence

from faults import KINDS, Fault
from runs import Rerun, Run, running_during

NO_FAULT = "(no fault)"


@dataclass
class Row:
    kind: str
    injected: int = 0
    running: int = 0
    reruns: int = 0
    overlaps: int = 0
    undocumented: int = 0  # overlapping copies outside the cases docs/architecture.md allows
    unacked_submits: int = 0
    unacked_writes: int = 0
    lost: int = 0


COUNTS = ("injected", "running", "reruns", "overlaps", "undocumented", "unacked_submits", "unacked_writes", "lost")


@dataclass
class Tables:
    rows: List[Row] = field(default_factory=list)
    summary: List[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = ["| fault | injected | jobs running during it | re-runs (sequential) | overlapping copies | "
                 "of them undocumented | submits without answer | store writes without answer | lost |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        total = Row("total")
        for r in self.rows:
            for name in COUNTS:
                setattr(total, name, getattr(total, name) + getattr(r, name))
        for r in self.rows + [total]:
            name = "**total**" if r is total else r.kind
            lines.append("| %s | %s |" % (name, " | ".join(str(getattr(r, c)) for c in COUNTS)))
        return "\n".join(lines + [""] + ["- " + s for s in self.summary]) + "\n"


def _during(t: float, faults: Sequence[Fault], slack: float) -> str:
    """The kind of the fault in effect at time `t` (or that began within `slack` after it), else NO_FAULT."""
    for f in faults:
        if f.start - slack <= t <= f.end:
            return f.kind
    return NO_FAULT


def fault_table(faults: List[Fault], reruns: List[Rerun], runs_by_job: Dict[str, List[Run]],
                unacked_submits: Sequence[float], unacked_writes: Sequence[float], lost: Sequence[float],
                slack: float) -> List[Row]:
    """Rows per kind of fault (in KINDS order, then NO_FAULT when something has no fault to explain it).
    `unacked_submits`, `unacked_writes`, `lost`: when each such request was sent; `slack`: a request sent up
    to this long before a fault began is the fault's (its answer was due during it)."""
    rows = {k: Row(k) for k in KINDS + (NO_FAULT,)}
    for f in faults:
        rows[f.kind].injected += 1
        rows[f.kind].running += running_during(f, runs_by_job)
    for r in reruns:
        row = rows[r.cause.kind if r.cause else NO_FAULT]
        if r.overlap:
            row.overlaps += 1
            row.undocumented += not r.documented
        else:
            row.reruns += 1
    for times, name in ((unacked_submits, "unacked_submits"), (unacked_writes, "unacked_writes"), (lost, "lost")):
        for t in times:
            row = rows[_during(t, faults, slack)]
            setattr(row, name, getattr(row, name) + 1)
    return [r for r in rows.values() if any(getattr(r, c) for c in COUNTS)]
