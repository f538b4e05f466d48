# The faults of a chaos run: which one comes next (a seeded choice: kind, target, how long) and how each is
# done to the real processes of a Cluster (tests/python/cluster.py). A fault's own duration (how long a
# node stays stopped, dead or out of disk) is a sleep: that is the fault, not a wait for a state.
import errno
import os
import random
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

from cluster import Cluster

WORKER_KILL = "worker kill -9"
WORKER_STOP = "worker SIGSTOP"
BROKER_KILL = "broker kill -9"
BROKER_STOP = "broker SIGSTOP"
STORE_KILL = "store kill -9"
DISK_FULL = "broker disk full"
KINDS = (WORKER_KILL, WORKER_STOP, BROKER_KILL, BROKER_STOP, STORE_KILL, DISK_FULL)
# Names for command lines (run_chaos.py --without worker-stop).
SHORT_NAMES = {"worker-kill": WORKER_KILL, "worker-stop": WORKER_STOP, "broker-kill": BROKER_KILL,
               "broker-stop": BROKER_STOP, "store-kill": STORE_KILL, "disk-full": DISK_FULL}

# docs/architecture.md, "What is guaranteed": two copies of a job run at the same time only when the
# worker process of the earlier copy is stopped beyond its lease while its jobs run on, or dies while its
# jobs outlive it. (The third case, a lease margin too small for network delays, has no fault here.)
OVERLAP_ALLOWED = frozenset((WORKER_STOP, WORKER_KILL))

WEIGHTS = {WORKER_KILL: 3, WORKER_STOP: 3, BROKER_KILL: 2, BROKER_STOP: 2, STORE_KILL: 1, DISK_FULL: 2}
SECONDS = {  # how long the fault lasts: stopped, dead before the restart, or out of space
    WORKER_KILL: (0.0, 6.0), WORKER_STOP: (1.0, 8.0), BROKER_KILL: (0.0, 4.0), BROKER_STOP: (1.0, 6.0),
    STORE_KILL: (0.0, 3.0), DISK_FULL: (1.0, 5.0),
}


@dataclass
class Fault:
    """One fault: what, on which node, for how long, and when (time.time()) it began and the node ran again."""

    index: int
    kind: str
    target: str  # a worker's name, "broker" or "store"
    seconds: float
    detail: str = ""
    start: float = 0.0
    end: float = 0.0

    def describe(self) -> str:
        return "#%d %s of %s for %.1f s%s" % (self.index, self.kind, self.target, self.seconds,
                                               " (%s)" % self.detail if self.detail else "")


class FaultPlan:
    """The seeded sequence of faults: the same seed gives the same kinds, targets, durations and pauses."""

    def __init__(self, rng: random.Random, workers: Sequence[str], kinds: Sequence[str]):
        self._rng = rng
        self._workers = list(workers)
        self._kinds = [k for k in KINDS if k in kinds]
        self._count = 0

    def next(self) -> Fault:
        self._count += 1
        kind = self._rng.choices(self._kinds, [WEIGHTS[k] for k in self._kinds])[0]
        target = self._rng.choice(self._workers) if kind in (WORKER_KILL, WORKER_STOP) else (
            "store" if kind == STORE_KILL else "broker")
        fault = Fault(self._count, kind, target, round(self._rng.uniform(*SECONDS[kind]), 1))
        if kind == BROKER_KILL:
            fault.detail = "same worker and event ports" if self._rng.random() < 0.5 else "new worker and event ports"
        return fault

    def pause(self) -> float:
        """Seconds of calm before the next fault."""
        return self._rng.uniform(2.0, 6.0)


class Injector:
    """Does faults to `cluster`. `welcome()` returns the broker's WELCOME (its worker and event ports);
    `disk` fills and frees the broker's data directory when the disk-full fault is on."""

    def __init__(self, cluster: Cluster, welcome: Callable[[], Dict], disk: Optional["TinyDisk"] = None):
        self._cluster = cluster
        self._welcome = welcome
        self._disk = disk

    def inject(self, fault: Fault) -> None:
        fault.start = time.time()
        {WORKER_KILL: self._worker_kill, WORKER_STOP: self._worker_stop, BROKER_KILL: self._broker_kill,
         BROKER_STOP: self._broker_stop, STORE_KILL: self._store_kill, DISK_FULL: self._disk_full}[fault.kind](fault)
        fault.end = time.time()

    def _worker_kill(self, fault: Fault) -> None:
        self._cluster.workers[fault.target].kill9()
        time.sleep(fault.seconds)
        self._cluster.crash_and_restart_worker(fault.target)

    def _worker_stop(self, fault: Fault) -> None:
        self._stopped(self._cluster.workers[fault.target], fault.seconds)

    def _broker_stop(self, fault: Fault) -> None:
        self._stopped(self._cluster.broker, fault.seconds)

    @staticmethod
    def _stopped(node, seconds: float) -> None:
        node.pause()
        try:
            time.sleep(seconds)
        finally:
            node.resume()

    def _broker_kill(self, fault: Fault) -> None:
        ports = None
        if fault.detail.startswith("same"):
            welcome = self._welcome()
            ports = {"--worker-port": welcome["worker_port"], "--pub-port": welcome["pub_port"]}
        self._cluster.broker.kill9()
        time.sleep(fault.seconds)
        self._cluster.crash_and_restart_broker(ports)

    def _store_kill(self, fault: Fault) -> None:
        self._cluster.store.kill9()
        time.sleep(fault.seconds)
        self._cluster.crash_and_restart_store()

    def _disk_full(self, fault: Fault) -> None:
        filled = self._disk.fill()
        fault.detail = "%d KiB filled" % (filled >> 10)
        try:
            time.sleep(fault.seconds)
        finally:
            self._disk.free()


class TinyDisk:
    """A small tmpfs mounted on the broker's data directory (root only), which a fault fills to the last byte
    and frees again. mount() before the broker starts, unmount() after it stopped."""

    FILLER = "chaos-disk-filler"

    def __init__(self, path: Path, size_mib: int = 48):
        self.path = Path(path)
        self.size_mib = size_mib
        self.mounted = False

    @staticmethod
    def unsupported() -> Optional[str]:
        """Why this machine cannot run the fault (None when it can)."""
        if os.geteuid() != 0:
            return "mounting a tmpfs for the broker's data needs root"
        return None

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % self.size_mib, "chaos-broker",
                               str(self.path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError("mount -t tmpfs on %s failed: %s" % (self.path, done.stderr.strip()))
        self.mounted = True

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True)
            self.mounted = False

    def fill(self) -> int:
        """Writes zeros into a filler file until the file system has no byte left; returns the bytes written."""
        written, size = 0, 1 << 20
        fd = os.open(self.path / self.FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while size:
                try:
                    written += os.write(fd, bytes(size))
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    size //= 16
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        (self.path / self.FILLER).unlink(missing_ok=True)

