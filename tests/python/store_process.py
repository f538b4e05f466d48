# A real `titan store` process for tests: started in a data dir, ready once it prints its READY line,
# stopped (or killed with SIGKILL) on demand. Waits on the pipe with a deadline; never sleeps.
import os
import re
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_RE = re.compile(r"^READY store tcp://127\.0\.0\.1:(\d+)$")
START_DEADLINE_S = 20.0


def titan_bin() -> Path:
    """The `titan` executable: $TITAN_BIN, else <repo>/build/bin/titan."""
    return Path(os.environ.get("TITAN_BIN") or REPO_ROOT / "build" / "bin" / "titan")


class StoreProcess:
    """One `titan store --port P --dir D` child. Not thread-safe; use from the test's thread."""

    def __init__(self, data_dir: Path, port: int = 0, extra_args: Optional[List[str]] = None):
        self.data_dir = Path(data_dir)
        self.requested_port = port
        self.extra_args = list(extra_args or [])
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.stdout_lines: List[str] = []  # everything the store printed on stdout
        self._stderr_path = self.data_dir.parent / (self.data_dir.name + ".stderr.log")
        self._drain: Optional[threading.Thread] = None
        self._pending = b""

    @property
    def endpoint(self) -> str:
        return "tcp://127.0.0.1:%d" % self.port

    def start(self) -> "StoreProcess":
        binary = titan_bin()
        if not binary.is_file():
            raise RuntimeError("%s does not exist: build it (cmake --build build) or set TITAN_BIN" % binary)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_lines = []
        cmd = [str(binary), "store", "--port", str(self.requested_port), "--dir", str(self.data_dir)]
        with open(self._stderr_path, "ab") as err:
            self.proc = subprocess.Popen(cmd + self.extra_args, stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        line = self._read_first_line(time.monotonic() + START_DEADLINE_S)
        m = READY_RE.match(line)
        if not m:
            self.kill9()
            raise RuntimeError("store printed %r instead of 'READY store tcp://127.0.0.1:<port>'; stderr:\n%s"
                               % (line, self.stderr()))
        self.port = int(m.group(1))
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        return self

    def stop(self, grace_s: float = 5.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after `grace_s`. Returns the exit code (None if it never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self._reap()

    def kill9(self) -> Optional[int]:
        """SIGKILL the store (a crash: no shutdown code runs) and reap it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        return self._reap()

    def stderr(self) -> str:
        try:
            return self._stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _reap(self) -> int:
        code = self.proc.wait(10)
        if self._drain is not None:
            self._drain.join(10)
            self._drain = None
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def _read_first_line(self, deadline: float) -> str:
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill9()
                raise RuntimeError("store did not print READY within %gs; stderr:\n%s"
                                   % (START_DEADLINE_S, self.stderr()))
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = self.proc.wait(10)
                raise RuntimeError("store exited (code %s) before READY; stderr:\n%s" % (code, self.stderr()))
            buf += chunk
        first, _, rest = buf.partition(b"\n")
        self.stdout_lines.append(first.decode(errors="replace"))
        self._pending = rest
        return self.stdout_lines[0]

    def _drain_stdout(self) -> None:
        data = self._pending + self.proc.stdout.read()  # until the store exits and the pipe closes
        self.stdout_lines.extend(line for line in data.decode(errors="replace").split("\n") if line)
