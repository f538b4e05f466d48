# Running the `titan` CLI against a test cluster, as a user would from a shell: the real executable,
# the broker named by TITAN_HOST/TITAN_PORT, a hard timeout so a hung command fails the test.
import os
import subprocess
from typing import Mapping, Optional, Sequence

from node_process import titan_bin

CLI_TIMEOUT_S = 60


def titan(port: int, args: Sequence[str], stdin: Optional[str] = None, cwd: Optional[str] = None,
          env: Optional[Mapping[str, str]] = None, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Runs `titan ARGS` with TITAN_HOST/TITAN_PORT naming the broker on 127.0.0.1:`port`; returns the
    finished process (stdout and stderr as text). `stdin` is piped in (else /dev/null)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    full_env.update({"TITAN_HOST": "127.0.0.1", "TITAN_PORT": str(port)})
    full_env.update(env or {})
    return subprocess.run([str(titan_bin())] + list(args), input=stdin if stdin is not None else "",
                          capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout)


def titan_ok(port: int, args: Sequence[str], **kwargs) -> str:
    """`titan ARGS` that must exit 0; returns its stdout. A failure shows both streams."""
    proc = titan(port, args, **kwargs)
    assert proc.returncode == 0, "titan %s exited %d\nstdout:\n%s\nstderr:\n%s" % (
        " ".join(args), proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout
