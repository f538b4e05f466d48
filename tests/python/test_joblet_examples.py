# Joblet's own examples (seed 003) run against a real Titan cluster with only their import changed
# (joblet_examples/seed_examples.py says what else differs and why). The cluster's workers offer the
# runtimes the examples name and have a `python` on their PATH, as a Joblet server with those runtimes would.
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cluster import Cluster, wait_until
from node_process import REPO_ROOT
from titan_sdk import TitanClient

EXAMPLES = Path(__file__).parent / "joblet_examples" / "seed_examples.py"


def runtime_path() -> str:
    """This interpreter's environment (a venv folder) when it is one, else the interpreter itself."""
    return sys.prefix if (Path(sys.prefix) / "pyvenv.cfg").is_file() else sys.executable


@pytest.fixture(scope="module")
def joblet_cluster(tmp_path_factory):
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "python").symlink_to(sys.executable)  # Debian has python3 only; Joblet's examples say python
    runtimes = ["--runtime", "python-3.11=" + runtime_path(), "--runtime", "python-3.11-ml=" + runtime_path()]
    old_path = os.environ["PATH"]
    os.environ["PATH"] = str(bin_dir) + os.pathsep + old_path
    try:
        # One worker: the examples' two volumes land on it, and one job uses both (they must share a worker).
        with Cluster(tmp_path_factory.mktemp("joblet"), workers=(("w1", runtimes),)) as c:  # __enter__ starts it
            yield c
    finally:
        os.environ["PATH"] = old_path


def test_the_seed_examples_run_with_only_the_import_changed(joblet_cluster):
    # A Joblet server has sampled its machine before a client asks; here the worker's second heartbeat
    # brings its first CPU figure (a rate needs two samples).
    with TitanClient(host="127.0.0.1", port=joblet_cluster.port) as client:
        wait_until("the worker reports its CPU",
                   lambda: client.monitoring.get_system_status()["cpu"]["usage_percent"] is not None)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TITAN_", "JOBLET_"))}
    env.update(JOBLET_HOST="127.0.0.1", JOBLET_PORT=str(joblet_cluster.port),
               PYTHONPATH=str(REPO_ROOT / "sdk" / "python"))
    run = subprocess.run([sys.executable, str(EXAMPLES)], capture_output=True, text=True, env=env, timeout=240)
    assert run.returncode == 0, "stdout:\n%s\nstderr:\n%s" % (run.stdout, run.stderr)
    out = run.stdout
    assert "🎉 Server is ready to go!" in out
    assert "Hello from uploaded script!" in out  # the uploaded script ran, and its log streamed live
    assert "Job deleted!" in out and "🗑️ Volume deleted!" in out
    assert "🚀 Workflow started: my-data-pipeline" in out
    assert "✅ python-3.11: python 3.11" in out and "📋 python-3.11-ml" in out
    assert re.search(r"^   Size: [0-9]+\.[0-9] MB$", out, re.M)  # the runtime's files, as its worker counted them
    assert "🤷 That job doesn't exist" in out
    assert out.rstrip().endswith("ALL EXAMPLES RAN")
