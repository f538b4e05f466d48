# What a run may leave behind after its cluster stopped: processes (a titan node or helper whose command
# line names the run's folder, a job process whose environment carries the run's token) and cgroups (a job
# cgroup under a directory named after one of the run's workers, where workers make job cgroups).
import os
from pathlib import Path
from typing import List, Sequence

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_DEPTH = 8


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:  # gone meanwhile, or not ours to read
        return b""


def processes(root: Path, token: str) -> List[str]:
    """Live processes of the run, as "pid: command line" (zombies have neither command line nor environment)."""
    mine = {os.getpid(), os.getppid()}
    marker, folder = ("CHAOS_RUN=%s" % token).encode(), str(root).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in mine:
            continue
        cmdline = _read("/proc/%s/cmdline" % entry)
        environ = _read("/proc/%s/environ" % entry)
        if folder in cmdline or marker in environ.split(b"\0"):
            found.append("%s: %s" % (entry, cmdline.replace(b"\0", b" ").decode(errors="replace").strip()))
    return found


def cgroups(worker_names: Sequence[str], root: Path = CGROUP_ROOT) -> List[str]:
    """Cgroup directories whose name contains one of `worker_names` (job cgroups live under a directory
    named after their worker); [] on a machine without cgroups."""
    found = []
    base = len(root.parts)
    for path, dirs, _ in os.walk(root):
        if len(Path(path).parts) - base >= CGROUP_DEPTH:
            dirs[:] = []
        for d in dirs:
            if any(name in d for name in worker_names):
                found.append(os.path.join(path, d))
    return found
