# A whole Titan cluster as separate processes for integration tests: a store, a broker that announces it,
# and workers, each on ports chosen by the OS (port 0) and read back from READY lines. Jobs run with this
# checkout's SDK on PYTHONPATH and this interpreter (which has pyzmq and msgpack) as their python.
import os
import re
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from node_process import REPO_ROOT, NodeProcess
from store_process import StoreProcess

BROKER_READY_RE = re.compile(r"^READY broker tcp://127\.0\.0\.1:(\d+)$")
WORKER_READY_RE = re.compile(r"^READY worker (\S+)$")


def job_environment() -> Dict[str, str]:
    """The environment workers (and so their jobs) get: ours, minus any TITAN_* a developer has set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    sdk = str(REPO_ROOT / "sdk" / "python")
    env["PYTHONPATH"] = sdk + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["TITAN_PYTHON"] = sys.executable
    return env


class Cluster:
    """Store + broker + workers under `root` (an absolute directory). Stop it with stop()."""

    def __init__(self, root: Path, workers: Sequence[Tuple[str, List[str]]] = (("w1", []), ("w2", [])),
                 keys: Optional[Path] = None, worker_credential: Optional[Path] = None,
                 store_args: Sequence[str] = (), broker_args: Sequence[str] = (), quick_failure_detection=True):
        """`keys`: a keys folder (`titan keys init`) the store and broker run CURVE with; workers then
        connect with `worker_credential`. `store_args`: more flags for `titan store` (--audit-writes);
        `broker_args`: for `titan broker` (--heartbeat-ms). `quick_failure_detection`: unless `broker_args` say
        otherwise, 3 heartbeats of liveness and 5 s of recovery grace instead of the broker's defaults."""
        self.root = Path(root).resolve()
        self.worker_specs = list(workers)
        self.keys_args = ["--keys", str(keys)] if keys else []
        self.worker_credential = worker_credential
        self.store_args = list(store_args)
        self.broker_args = list(broker_args)
        self.quick_failure_detection = quick_failure_detection
        self.store: Optional[StoreProcess] = None
        self.broker: Optional[NodeProcess] = None
        self.workers: Dict[str, NodeProcess] = {}

    @property
    def port(self) -> int:
        """The broker's client port: what TitanClient and TITAN_PORT name."""
        return int(self.broker.ready.group(1))

    def start(self) -> "Cluster":
        try:
            self.store = StoreProcess(self.root / "store", extra_args=self.keys_args + self.store_args).start()
            self.broker = self._start_broker()
            for name, extra in self.worker_specs:
                self.start_worker(name, extra)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_broker(self) -> NodeProcess:
        # The suite keeps the quick failure detection it was written for (3 heartbeats, 5 s of recovery
        # grace) unless a test sets its own.
        quick = [arg for flag, value in (("--liveness", "3"), ("--recovery-grace-ms", "5000"))
                 if self.quick_failure_detection and flag not in self.broker_args for arg in (flag, value)]
        return NodeProcess("broker", ["broker", "--port", "0", "--worker-port", "0", "--pub-port", "0",
                                      "--dir", str(self.root / "broker"), "--store-port",
                                      str(self.store.port)] + self.keys_args + self.broker_args + quick,
                           BROKER_READY_RE, self.root / "broker.stderr.log").start()

    def restart_broker(self) -> None:
        """kill -9 of the broker, then a new one on the same --dir (so from its journal) and new ports:
        workers started before it do not find it; start them after."""
        self.broker.kill9()
        self.broker = self._start_broker()

    def start_worker(self, name: str, extra: Sequence[str] = (), credential: Optional[Path] = None) -> NodeProcess:
        """A worker named `name` (with `credential`, else the cluster's worker credential); returns once it
        has registered with the broker (its READY line)."""
        credential = credential or self.worker_credential
        creds = ["--credentials", str(credential)] if credential else []
        proc = NodeProcess("worker " + name, ["--port", str(self.port)] + creds +
                           ["worker", "--name", name, "--dir", str(self.root / name), "--slots", "4"] + list(extra),
                           WORKER_READY_RE, self.root / (name + ".stderr.log"), env=job_environment())
        self.workers[name] = proc.start()
        return proc

    def crash_and_restart_broker(self, ports: Optional[Dict[str, int]] = None) -> NodeProcess:
        """SIGKILL the broker (a crash: only what it committed survives) and start it again on the same data
        directory and client port. Its worker and event ports are chosen anew, unless `ports` names them
        ({"--worker-port": P, "--pub-port": Q}, as WELCOME announced them): then workers find it where it was."""
        port = self.port
        self.broker.kill9()
        args = list(self.broker.args)
        for flag, value in dict(ports or {}, **{"--port": port}).items():
            args[args.index(flag) + 1] = str(value)
        self.broker = NodeProcess("broker", args, BROKER_READY_RE, self.root / "broker.stderr.log").start()
        return self.broker

    def crash_and_restart_worker(self, name: str) -> NodeProcess:
        """SIGKILL the worker `name` (its jobs' processes may outlive it) and start it again with the same name,
        data directory and flags; returns once it has registered (its new life ends what the old one left)."""
        self.workers[name].kill9()
        return self.start_worker(name, dict(self.worker_specs).get(name, ()))

    def crash_and_restart_store(self) -> StoreProcess:
        """SIGKILL the store (only what it committed survives) and start it again on the same data directory
        and port, which the broker keeps announcing."""
        port = self.store.port
        self.store.kill9()
        self.store = StoreProcess(self.store.data_dir, port=port, extra_args=self.store.extra_args).start()
        return self.store

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Workers first (they end their jobs), then the broker, then the store."""
        for proc in list(self.workers.values()) + [self.broker, self.store]:
            if proc is not None:
                proc.stop()

    def stderr(self) -> str:
        """The tail of every node's stderr, for a failing test's message."""
        procs = [self.store, self.broker] + list(self.workers.values())
        return "\n".join("--- %s:\n%s" % (p.role, p.stderr()) for p in procs if p is not None)


def wait_until(what: str, check, deadline_s: float = 60):
    """Polls check() until it returns something true, and returns that; fails naming `what` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "waited %g s for %s" % (deadline_s, what)
        time.sleep(0.1)


def run_to_end(client, job, timeout: float = 60):
    """Submits `job` through `client` (a TitanClient), waits for its end; returns its JobInfo."""
    client.submit_job(job)
    client.wait(job.job_id, timeout=timeout)
    return client.get_job(job.job_id)


def unique_id(prefix: str) -> str:
    """A job id no other test of the session uses (job ids are unique per broker, forever)."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def write_script(directory: Path, name: str, body: str) -> str:
    """Writes a job script (dedented) and returns its path."""
    path = Path(directory) / name
    path.write_text(textwrap.dedent(body).lstrip())
    return str(path)
