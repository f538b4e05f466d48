# One chaos run: a real cluster (store, broker, workers), a stream of jobs and store writes, seeded faults
# for a number of minutes, then the checks (verdict.py, leftovers.py, runs.py) and the per-fault table
# (report.py). Used by test_chaos.py (bounded, in CI) and run_chaos.py (long runs).
import dataclasses
import json
import os
import random
import time
import traceback
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import health
import leftovers
import verdict
import workload
from cluster import Cluster
from events import JobEvents
from faults import DISK_FULL, KINDS, Fault, FaultPlan, Injector, TinyDisk
from report import Tables, fault_table
from runs import Run, read_runs, reruns
from titan_sdk import TitanClient
from titan_sdk.errors import TitanError
from workload import REQUEST_TIMEOUT_S, LOOKUP_DEADLINE_S, StoreWriter, Submitter, write_job_script

# Heartbeats every second, a worker lost after 4 silent ones, 5 s for workers to return to a restarted
# broker: a worker's lease is then 2.5 s (docs/architecture.md, "Fencing"), so faults of a few seconds
# cross both sides of it.
BROKER_ARGS = ["--heartbeat-ms", "1000", "--liveness", "4", "--recovery-grace-ms", "5000"]
HEALTH_DEADLINE_S = 60.0
DRAIN_DEADLINE_S = 180.0
LEFTOVER_DEADLINE_S = 10.0


def _env(name: str, kind, default):
    raw = os.environ.get(name, "").strip()
    return kind(raw) if raw else default


@dataclass
class ChaosConfig:
    seed: int = 14
    minutes: float = 2.0  # of faults; starting, draining and checking add about a minute
    disk_full: bool = False  # the fill/free-tmpfs fault (needs root; see README.md)
    workers: int = 3
    submit_rate: float = 4.0  # jobs per second, on average
    store_rate: float = 4.0  # store writes per second
    without: Tuple[str, ...] = ()  # kinds of fault left out (faults.KINDS)

    @classmethod
    def from_env(cls) -> "ChaosConfig":
        """TITAN_CHAOS_SEED, TITAN_CHAOS_MINUTES, TITAN_CHAOS_DISK_FULL over the defaults. The full-disk fault
        is on where this machine can run it (root) unless TITAN_CHAOS_DISK_FULL=0; =1 asks for it anyway."""
        disk = _env("TITAN_CHAOS_DISK_FULL", str, "")
        return cls(seed=_env("TITAN_CHAOS_SEED", int, cls.seed),
                   minutes=_env("TITAN_CHAOS_MINUTES", float, cls.minutes),
                   disk_full=disk == "1" or (disk != "0" and TinyDisk.unsupported() is None))


@dataclass
class ChaosResult:
    config: ChaosConfig
    faults: List[Fault] = field(default_factory=list)
    failures: List[str] = field(default_factory=list)
    report: str = ""


class ChaosRun:
    """Runs once: run() returns the result; every failure is in result.failures (never raised)."""

    def __init__(self, config: ChaosConfig, root: Path, log: Callable[[str], None] = print):
        self.config = config
        self.root = Path(root).resolve()
        self.log_line = log
        self.token = "c" + uuid.uuid4().hex[:7]  # in job ids, worker names and the jobs' environment
        self.result = ChaosResult(config)
        self.names = ["%sw%d" % (self.token, i + 1) for i in range(config.workers)]
        self.disk = TinyDisk(self.root / "cluster" / "broker") if config.disk_full else None
        self.cluster = Cluster(self.root / "cluster", workers=[(n, []) for n in self.names], broker_args=BROKER_ARGS)
        self.events = JobEvents()
        self.records = self.root / "records"
        self.submitter: Optional[Submitter] = None
        self.writer: Optional[StoreWriter] = None
        self.infos: Dict = {}
        self.late: List[str] = []
        self.drain_s = 0.0
        self.settled = False  # the end-of-run checks ran to their end
        self._t0 = time.monotonic()

    def log(self, what: str) -> None:
        self.log_line("[chaos %7.1fs] %s" % (time.monotonic() - self._t0, what))

    def run(self) -> ChaosResult:
        self.log("seed %d, %g minutes of faults, disk-full fault %s%s, run %s in %s" % (
            self.config.seed, self.config.minutes, "on" if self.disk else "off",
            "".join(", without " + k for k in self.config.without), self.token, self.root))
        try:
            self._start()
            self._fault_phase()
            self._stop_streams()
            self._settle()
        except (AssertionError, TitanError) as e:
            self.result.failures.append("%s: %s" % (type(e).__name__, e))
        except Exception:  # noqa: BLE001 - a node that would not start again, say: a finding, with its trace
            self.result.failures.append(traceback.format_exc())
        finally:
            self._teardown()
        self._check_leftovers()
        self._analyse()
        (self.root / "chaos-report.md").write_text(self.result.report)
        faults = [dataclasses.asdict(f) for f in self.result.faults]
        (self.root / "faults.json").write_text(json.dumps(faults, indent=1))
        return self.result

    def _start(self) -> None:
        missing = workload.missing_tools()
        if missing:
            raise AssertionError("the chaos jobs need " + missing)
        self.records.mkdir(parents=True, exist_ok=True)
        script = write_job_script(self.root)
        if self.disk:
            self.disk.mount()
        self.cluster.start()
        self.events.follow(health.welcome(self.cluster)["pub_port"])
        self.events.start()
        seed = self.config.seed
        self.submitter = Submitter(self.cluster.port, script, self.records, random.Random(seed * 7 + 1),
                                   self.config.submit_rate, self.token)
        self.writer = StoreWriter(self.cluster.port, random.Random(seed * 7 + 2), self.config.store_rate, self.token)
        self.submitter.start()
        self.writer.start()

    def _fault_phase(self) -> None:
        kinds = [k for k in KINDS if (k != DISK_FULL or self.disk) and k not in self.config.without]
        plan = FaultPlan(random.Random(self.config.seed), self.names, kinds)
        injector = Injector(self.cluster, lambda: health.welcome(self.cluster), self.disk)
        end = time.monotonic() + self.config.minutes * 60
        while time.monotonic() + 1 < end:
            time.sleep(min(plan.pause(), max(0.0, end - time.monotonic())))  # calm between faults
            fault = plan.next()
            self.result.faults.append(fault)
            self.log("fault " + fault.describe())
            injector.inject(fault)
            took = health.wait_healthy(self.cluster, HEALTH_DEADLINE_S, "fault " + fault.describe())
            self.events.follow(health.welcome(self.cluster)["pub_port"])
            self.log("  every node answers again %.1f s after the fault ended" % took)

    def _stop_streams(self) -> None:
        for stream in (self.submitter, self.writer):
            if stream is not None and stream.is_alive():
                stream.stop()
                stream.join(LOOKUP_DEADLINE_S + 30)
        for stream in (self.submitter, self.writer):
            if stream is not None:
                self.result.failures += stream.tally.errors

    def _settle(self) -> None:
        health.wait_healthy(self.cluster, HEALTH_DEADLINE_S, "the fault phase")
        subs = self.submitter.tally.submissions
        with TitanClient(host="127.0.0.1", port=self.cluster.port, timeout=10) as client:
            unacked = [s.job_id for s in subs if s.outcome == "unacked"]
            self.late = [i for i, info in verdict.get_jobs(client, unacked).items() if info is not None]
            accepted = [s.job_id for s in subs if s.outcome in ("acked", "found")] + self.late
            self.log("%d jobs submitted, %d accepted (%d found after a lost answer, %d accepted late); draining"
                     % (len(subs), len(accepted), sum(s.outcome == "found" for s in subs), len(self.late)))
            before, self.drain_s = verdict.wait_final(client, accepted, DRAIN_DEADLINE_S)
            self.result.failures += verdict.check_final(before)
            self.log("every accepted job final after %.1f s; restarting the broker once more" % self.drain_s)
        welcome = health.welcome(self.cluster)
        self.cluster.crash_and_restart_broker({"--worker-port": welcome["worker_port"],
                                               "--pub-port": welcome["pub_port"]})
        health.wait_healthy(self.cluster, HEALTH_DEADLINE_S, "the last broker restart")
        with TitanClient(host="127.0.0.1", port=self.cluster.port, timeout=10) as client:
            self.infos = verdict.get_jobs(client, accepted)
            self.result.failures += verdict.check_unchanged(before, self.infos)
            self.result.failures += verdict.check_store(client, self.writer.tally.acked)
            stats = client.get_stats()
        self.result.failures += health.problems(self.cluster)
        self.settled = True
        self.log("every node answers: broker (%d workers READY), store; %d acknowledged store writes read back"
                 % (sum(w["state"] == "READY" for w in stats["workers"]), len(self.writer.tally.acked)))

    def _teardown(self) -> None:
        for stream in (self.submitter, self.writer):
            if stream is not None:
                stream.stop()
        if self.events.is_alive():
            self.events.stop()
        self.cluster.stop()
        if self.disk:
            self.disk.unmount()

    def _check_leftovers(self) -> None:
        # A worker's reaper ends what its worker left and then itself: give the last of them a moment.
        deadline = time.monotonic() + LEFTOVER_DEADLINE_S
        while leftovers.processes(self.root, self.token) and time.monotonic() < deadline:
            time.sleep(health.POLL_S)
        procs = leftovers.processes(self.root, self.token)
        groups = leftovers.cgroups(self.names)
        self.result.failures += ["process left behind: " + p for p in procs]
        self.result.failures += ["cgroup left behind: " + g for g in groups]
        self.log("left behind: %d processes, %d cgroups" % (len(procs), len(groups)))

    def _analyse(self) -> None:
        runs_by_job: Dict[str, List[Run]] = {p.name[:-len(".runs")]: read_runs(p)
                                             for p in self.records.glob(self.token + "-*.runs")}
        unknown = sorted(set(runs_by_job) - set(self.infos))
        if self.infos:
            self.result.failures += ["job %s ran, but the broker never accepted it: %s" % (j, runs_by_job[j])
                                     for j in unknown]
        found = [r for job_id in sorted(runs_by_job) for r in reruns(job_id, runs_by_job[job_id], self.result.faults)]
        self.result.failures += ["copies ran side by side where the docs allow none: " + r.describe()
                                 for r in found if r.overlap and not r.documented]
        self.result.failures += verdict.check_records(self.infos, runs_by_job)
        self.result.failures += verdict.check_events(self.events.final_events(), self.infos)
        self.result.report = self._render(runs_by_job, found)

    def _render(self, runs_by_job: Dict[str, List[Run]], found) -> str:
        subs = self.submitter.tally.submissions if self.submitter else []
        sent = {s.job_id: s.sent_at for s in subs}
        lost = [sent[j] for j, info in self.infos.items() if info is None or not info.is_final]
        never = [s.sent_at for s in subs if s.outcome == "unacked" and s.job_id not in self.late]
        unacked_writes = self.writer.tally.unacked if self.writer else []
        tables = Tables(fault_table(self.result.faults, found, runs_by_job, never, unacked_writes, lost,
                                    REQUEST_TIMEOUT_S))
        states = Counter(info.state if info else "unknown" for info in self.infos.values())
        accepted = sum(s.outcome in ("acked", "found") for s in subs) + len(self.late)
        acked_writes = len(self.writer.tally.acked) if self.writer else 0
        tables.summary = [
            "seed %d, %g minutes of faults%s, %d workers, run %s" % (
                self.config.seed, self.config.minutes, "".join(" without " + k for k in self.config.without),
                self.config.workers, self.token),
            "jobs: %d submitted, %d accepted (%d found by JOB_GET after a lost answer, %d accepted late), "
            "%d never accepted" % (len(subs), accepted, sum(s.outcome == "found" for s in subs),
                                   len(self.late), len(never)),
            "final states: " + (", ".join("%s %d" % kv for kv in sorted(states.items())) or "not checked"),
            "jobs started more than once: %d; overlapping copies outside the documented cases: %d; "
            "assignments started after the broker had given them away: %d" % (
                len({r.job_id for r in found}), sum(r.overlap and not r.documented for r in found),
                sum(r.stale for r in found)),
            "drain after the faults: %.1f s; store writes acknowledged: %d, %s" % (
                self.drain_s, acked_writes, "%d of them did not read back at the end" % sum(
                    f.startswith(verdict.STORE_FAILURE) for f in self.result.failures)
                if self.settled else "not read back"),
            "job events seen: %d" % self.events.count,
            "failures: %d" % len(self.result.failures),
        ]
        fault_log = "\n".join("    " + f.describe() for f in self.result.faults)
        return tables.markdown() + "\nfaults in order:\n" + fault_log + "\n"
