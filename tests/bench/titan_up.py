"""A `titan up` cluster for a benchmark: started on free-ish ports in a fresh data folder, plaintext on loopback,
no dashboard; stopped (Ctrl-C) when the `with` block ends."""
import contextlib
import os
import subprocess
import tempfile
import threading

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TITAN = os.environ.get("TITAN_BIN", os.path.join(REPO, "build", "bin", "titan"))


@contextlib.contextmanager
def titan_up(prefix, flags, env=None):
    """Yields (data folder, client port) of `titan up --insecure --no-dashboard` with `flags` added."""
    data = tempfile.mkdtemp(prefix=prefix)
    port = 20000 + os.getpid() % 5000 * 4
    up = subprocess.Popen([TITAN, "up", "--dir", data, "--port", str(port), "--insecure", "--no-dashboard"] + flags,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        for line in up.stdout:
            if "Ctrl-C stops everything" in line:
                break
        threading.Thread(target=lambda: [None for _ in up.stdout], daemon=True).start()
        yield data, port
    finally:
        up.send_signal(2)
        up.wait(timeout=60)
