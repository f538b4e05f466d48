# A real `titan store` process for tests: started in a data dir, ready once it prints its READY line,
# stopped (or killed with SIGKILL) on demand. Waits on the pipe with a deadline; never sleeps.
import re
from pathlib import Path
from typing import List, Optional

from node_process import REPO_ROOT, NodeProcess, titan_bin  # noqa: F401 (re-exported)

READY_RE = re.compile(r"^READY store tcp://127\.0\.0\.1:(\d+)$")


class StoreProcess(NodeProcess):
    """One `titan store --port P --dir D` child. Not thread-safe; use from the test's thread."""

    def __init__(self, data_dir: Path, port: int = 0, extra_args: Optional[List[str]] = None):
        self.data_dir = Path(data_dir)
        self.requested_port = port
        self.extra_args = list(extra_args or [])
        self.port: Optional[int] = None
        super().__init__("store", ["store", "--port", str(port), "--dir", str(self.data_dir)] + self.extra_args,
                         READY_RE, self.data_dir.parent / (self.data_dir.name + ".stderr.log"))

    @property
    def endpoint(self) -> str:
        return "tcp://127.0.0.1:%d" % self.port

    def start(self) -> "StoreProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        super().start()
        self.port = int(self.ready.group(1))
        return self
