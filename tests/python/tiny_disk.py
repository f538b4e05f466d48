# A tiny file system for tests of a full disk: a tmpfs of a few MiB the test mounts itself, filled with
# one file and freed by deleting it. Mounting needs root and the mount(8) tool; where the test cannot
# mount, tiny_disk() skips it and says why.
import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

FILLER = ".filler"


class TinyDisk:
    """A tmpfs mounted on `path`; unmount() takes it away with everything on it."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def fill(self) -> None:
        """Takes every free byte: later writes fail with ENOSPC until free() is called."""
        fd = os.open(str(self.path / FILLER), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (1 << 16, 1 << 12, 1):  # big chunks, then the last page's bytes
                block = b"\0" * size
                while True:
                    try:
                        os.write(fd, block)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)

    def leave_free(self, free_bytes: int) -> None:
        """fill(), then gives back about `free_bytes`."""
        self.fill()
        filler = self.path / FILLER
        os.truncate(str(filler), max(0, filler.stat().st_size - free_bytes))

    def free(self) -> None:
        """Gives every byte fill() took back."""
        (self.path / FILLER).unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30)


def tiny_disk(path: Path, size: str = "4m") -> TinyDisk:
    """Mounts a tmpfs of `size` on `path` (created), or skips the test saying why it cannot."""
    if os.geteuid() != 0:
        pytest.skip("a full-disk test mounts a tiny tmpfs, which needs root; run it as root (CI does)")
    if shutil.which("mount") is None:
        pytest.skip("a full-disk test mounts a tiny tmpfs with mount(8), which is not installed")
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", str(path)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs on %s (%s): a full-disk test needs one (root with CAP_SYS_ADMIN)"
                    % (path, proc.stderr.strip()))
    return TinyDisk(path)
