# One real `titan` child process for tests (store, broker or worker): started with its arguments, ready
# once its first stdout line matches the expected READY line, stopped (or SIGKILLed) on demand. Waits on
# the pipe with a deadline; never sleeps.
import os
import re
import select
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 20.0


def titan_bin() -> Path:
    """The `titan` executable: $TITAN_BIN, else <repo>/build/bin/titan."""
    return Path(os.environ.get("TITAN_BIN") or REPO_ROOT / "build" / "bin" / "titan")


class NodeProcess:
    """`titan <args>`, whose stderr goes to <log_path>. Not thread-safe; use from the test's thread."""

    def __init__(self, role: str, args: List[str], ready_re: "re.Pattern[str]", log_path: Path,
                 env: Optional[Dict[str, str]] = None):
        self.role = role
        self.args = list(args)
        self.ready_re = ready_re
        self.env = env
        self.ready: Optional["re.Match[str]"] = None  # the READY line's match once started
        self.proc: Optional[subprocess.Popen] = None
        self.stdout_lines: List[str] = []  # everything the node printed on stdout
        self._stderr_path = Path(log_path)
        self._drain: Optional[threading.Thread] = None
        self._pending = b""

    def start(self) -> "NodeProcess":
        binary = titan_bin()
        if not binary.is_file():
            raise RuntimeError("%s does not exist: build it (cmake --build build) or set TITAN_BIN" % binary)
        self.stdout_lines = []
        with open(self._stderr_path, "ab") as err:
            self.proc = subprocess.Popen([str(binary)] + self.args, stdout=subprocess.PIPE, stderr=err,
                                         stdin=subprocess.DEVNULL, start_new_session=True, env=self.env)
        line = self._read_first_line(time.monotonic() + START_DEADLINE_S)
        self.ready = self.ready_re.match(line)
        if not self.ready:
            self.kill9()
            raise RuntimeError("%s printed %r instead of a line matching %r; stderr:\n%s"
                               % (self.role, line, self.ready_re.pattern, self.stderr()))
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        return self

    def stop(self, grace_s: float = 5.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after `grace_s`. Returns the exit code (None if it never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.resume()  # a paused node handles SIGTERM only once it runs again
            self.proc.terminate()
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self._reap()

    def kill9(self) -> Optional[int]:
        """SIGKILL the node (a crash: no shutdown code runs) and reap it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        return self._reap()

    def pause(self) -> None:
        """SIGSTOP: the node stalls (no turn of its loop runs) until resume(); its sockets stay open."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after pause()."""
        os.kill(self.proc.pid, signal.SIGCONT)

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
                raise RuntimeError("%s did not print READY within %gs; stderr:\n%s"
                                   % (self.role, START_DEADLINE_S, self.stderr()))
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = self.proc.wait(10)
                raise RuntimeError("%s exited (code %s) before READY; stderr:\n%s" % (self.role, code, self.stderr()))
            buf += chunk
        first, _, rest = buf.partition(b"\n")
        self.stdout_lines.append(first.decode(errors="replace"))
        self._pending = rest
        return self.stdout_lines[0]

    def _drain_stdout(self) -> None:
        data = self._pending + self.proc.stdout.read()  # until the node exits and the pipe closes
        self.stdout_lines.extend(line for line in data.decode(errors="replace").split("\n") if line)
