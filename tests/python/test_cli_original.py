# The original Titan's CLI habits on real processes (store, broker, workers w1 and w2): the shell read
# from a pipe and on a terminal, `titan json`, raw DAG strings, `deploy Worker.jar PORT`, `shutdown HOST
# PORT`, positional deploy ports and CLI durations. Waits use the CLI's own blocking commands (`--wait`)
# or the broker's event feed (`titan tail`), each with a deadline; no test sleeps to wait for a state.
import base64
import json
import os
import pty
import random
import select
import subprocess
import time
from pathlib import Path
from typing import List, Optional

import pytest

from cli import titan, titan_ok
from cluster import unique_id, write_script
from node_process import titan_bin

EVENT_DEADLINE_S = 30


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def cli_env(port: int, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    env.update({"TITAN_HOST": "127.0.0.1", "TITAN_PORT": str(port)}, **extra)
    return env


class LineReader:
    """Reads a child's output from a file descriptor up to a text, with a deadline; keeps all of it."""

    def __init__(self, fd: int):
        self.fd = fd
        self.text = ""

    def until(self, needle: str, timeout: float = EVENT_DEADLINE_S) -> str:
        deadline = time.monotonic() + timeout
        while needle not in self.text:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.fd], [], [], max(0.0, left))
            if not ready:
                raise AssertionError("no %r within %ss; got:\n%s" % (needle, timeout, self.text))
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # a pty reports EIO once the child has gone
                chunk = b""
            if not chunk:
                raise AssertionError("output ended before %r; got:\n%s" % (needle, self.text))
            self.text += chunk.decode(errors="replace")
        return self.text


class WorkerEvents:
    """`titan tail --workers --heartbeats`: worker joins, drains and departures as they are published."""

    def __init__(self, port: int):
        self.proc = subprocess.Popen([str(titan_bin()), "tail", "--workers", "--heartbeats"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     env=cli_env(port))
        self.lines = LineReader(self.proc.stdout.fileno())
        self.lines.until("  heartbeat  ")  # a heartbeat came through: the subscription is live

    def wait(self, needle: str) -> None:
        self.lines.until(needle)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()


@pytest.fixture
def worker_events(cluster):
    events = WorkerEvents(cluster.port)
    try:
        yield events
    finally:
        events.close()


@pytest.fixture
def hello(tmp_path):
    return write_script(tmp_path, "hello.py", """
        import os, sys
        print("hello from", os.environ["TITAN_JOB_ID"], "args", sys.argv[1:])
    """)


def test_stats_piped_into_titan_runs_without_banner_or_prompt(cluster):
    proc = titan(cluster.port, [], stdin="stats\n")
    assert proc.returncode == 0, proc.stderr
    assert "--- TITAN SYSTEM MONITOR ---" in proc.stdout and "[w1]" in proc.stdout and "[w2]" in proc.stdout
    assert "TITAN DISTRIBUTED ORCHESTRATOR" not in proc.stdout and "titan>" not in proc.stdout


def test_a_piped_script_runs_every_line_and_exits_with_the_last_failure(cluster, hello):
    job = unique_id("hello")
    key = unique_id("greeting")
    script = "\n".join([
        "# the original's habits, one command a line",
        "store set %s 'hello world'" % key,
        "",
        "store get %s" % key,
        "run %s --id %s --wait" % (hello, job),
        "status %s" % job,
        "logs %s" % job,
        "frobnicate now",
        "json",
    ]) + "\n"
    proc = titan(cluster.port, [], stdin=script)
    assert proc.returncode == 2, "the unknown command's usage error is the last failure:\n" + proc.stderr
    out = proc.stdout
    assert "hello world\n" in out
    assert out.count("hello from %s args []" % job) == 2  # --wait streamed it, then `logs` printed it
    assert "job:        %s\nstate:      COMPLETED\n" % job in out
    assert "titan: unknown command 'frobnicate'; `help` lists the commands" in proc.stderr
    assert json.loads(out.splitlines()[-1])["workers"], "the shell went on after the unknown command"
    assert titan_ok(cluster.port, ["store", "get", key]) == "hello world\n"  # the same as a subcommand

    ok = titan(cluster.port, [], stdin="status %s\n\nstats\n" % unique_id("missing"))
    assert ok.returncode == 1 and "no job" in ok.stderr  # not found, though the later `stats` succeeded
    assert titan(cluster.port, [], stdin="stats\nexit\nfrobnicate\n").returncode == 0  # nothing after exit runs


def test_titan_json_is_the_stats_reply_as_json(cluster):
    stats = json.loads(titan_ok(cluster.port, ["json"]))
    names = {w["name"]: w for w in stats["workers"]}
    assert {"w1", "w2"} <= set(names)
    assert names["w1"]["slots"] == 4 and "GENERAL" in names["w1"]["capabilities"]
    assert {"queued", "running", "completed", "failed", "blocked"} <= set(stats)


def test_a_dag_string_with_inline_payloads_runs_the_child_after_its_parent(cluster):
    parent, child, key = unique_id("extract"), unique_id("train"), unique_id("dag-handoff")
    producer = "from titan_sdk import TitanClient\nTitanClient().store_put(%r, 'forty-two')\n" % key
    consumer = "from titan_sdk import TitanClient\nprint('child read', TitanClient().store_get(%r))\n" % key
    # The child names its parent the original's way, "DAG-<id>"; the broker keeps the canonical id.
    dag = ("%s|GENERAL|RUN_PAYLOAD|produce.py|%s|5|0|[] ;\n %s|GENERAL|RUN_PAYLOAD|consume.py|%s|1|0|[DAG-%s]|AFFINITY;"
           % (parent, b64(producer), child, b64(consumer), parent))
    out = titan_ok(cluster.port, ["dag", dag, "--wait"])
    assert out.startswith("dag: %s\njobs: %s %s\n" % (parent, parent, child))
    assert "child read forty-two" in titan_ok(cluster.port, ["logs", child])
    assert "parents:    %s" % parent in titan_ok(cluster.port, ["status", child])


def test_a_dag_string_names_a_script_deployed_earlier(cluster, tmp_path):
    name = unique_id("greet") + ".py"
    write_script(tmp_path, name, 'print("deployed script ran")\n')
    titan_ok(cluster.port, ["deploy-script", str(tmp_path / name)])
    job = unique_id("greet")
    titan_ok(cluster.port, ["dag", "%s|GENERAL|%s|1|0|[]" % (job, name), "--wait"])
    assert titan_ok(cluster.port, ["logs", job]) == "deployed script ran\n"


def test_a_malformed_dag_string_exits_2_naming_the_job_and_field_and_sends_nothing(cluster):
    first = unique_id("a")
    proc = titan(cluster.port, ["dag", "%s|GENERAL|x.py|1|0|[];train|GENERAL|t.py|high|0|[%s]" % (first, first)])
    assert proc.returncode == 2
    assert "titan: dag: job 2 ('train'): PRIORITY 'high' is not an integer" in proc.stderr
    assert titan(cluster.port, ["status", first]).returncode == 1  # nothing was submitted


def test_a_cycle_in_a_dag_string_is_refused_by_the_broker(cluster):
    a, b = unique_id("cy"), unique_id("cy")
    noop = b64("pass\n")
    proc = titan(cluster.port, ["dag", "%s|GENERAL|RUN_PAYLOAD|n.py|%s|1|0|[%s];%s|GENERAL|RUN_PAYLOAD|n.py|%s|1|0|[%s]"
                                % (a, noop, b, b, noop, a)])
    assert proc.returncode == 3, proc.stderr
    assert "the jobs form a cycle through" in proc.stderr and a in proc.stderr
    assert titan(cluster.port, ["status", a]).returncode == 1


def test_deploy_worker_jar_adds_a_worker_that_runs_gpu_jobs_until_shutdown_port(cluster, tmp_path, worker_events):
    port = random.randint(20000, 60000)  # the new worker's address port: a name, nothing listens on it
    name = "worker-%d" % port
    out = titan_ok(cluster.port, ["deploy", "Worker.jar", str(port), "GPU"])
    assert out.startswith("worker %s (port %d) is starting" % (name, port))
    worker_events.wait("worker.%s  joined" % name)
    stats = titan_ok(cluster.port, ["stats"])
    assert "[%s] [%d]" % (name, port) in stats and "GPU" in stats.split("[%d]" % port)[1].splitlines()[0]
    info = {w["name"]: w for w in json.loads(titan_ok(cluster.port, ["json"]))["workers"]}[name]
    assert (info["port"], info["parent"] in ("w1", "w2")) == (port, True)
    refused = titan(cluster.port, ["deploy", "Worker.jar", str(port)])
    assert refused.returncode == 3 and "already has port %d" % port in refused.stderr

    job = unique_id("gpu")
    gpu = write_script(tmp_path, "gpu.py", 'print("on the GPU worker")\n')
    assert "on the GPU worker" in titan_ok(cluster.port, ["run", gpu, "--requirement", "GPU", "--id", job, "--wait"])
    assert "worker:     %s\n" % name in titan_ok(cluster.port, ["status", job])

    missing = titan(cluster.port, ["shutdown", "127.0.0.1", str(port + 1)])
    assert missing.returncode == 1
    assert "no worker with port %d on 127.0.0.1; the workers are:" % (port + 1) in missing.stderr
    assert "%s (" % name in missing.stderr and ":%d)" % port in missing.stderr
    missing = titan(cluster.port, ["shutdown", str(port + 1)])  # the original's `shutdown <port>`
    assert missing.returncode == 1
    assert "no worker named '%d' or with port %d; the workers are:" % (port + 1, port + 1) in missing.stderr
    assert "`titan shutdown` takes a WORKER name, a PORT, or HOST PORT" in missing.stderr
    out = titan(cluster.port, [], stdin="shutdown %d\n" % port)  # as the original's shell took it
    assert out.returncode == 0, out.stderr
    assert "worker %s (port %d) is draining" % (name, port) in out.stdout
    worker_events.wait("worker.%s  left" % name)
    assert name not in [w["name"] for w in json.loads(titan_ok(cluster.port, ["json"]))["workers"]]


def test_shutdown_host_port_names_the_worker_on_that_machine(cluster, worker_events):
    port = random.randint(20000, 60000)
    name = "worker-%d" % port
    titan_ok(cluster.port, ["deploy", "Worker.jar", str(port)])
    worker_events.wait("worker.%s  joined" % name)
    out = titan_ok(cluster.port, ["shutdown", "127.0.0.1", str(port)])
    assert out.startswith("worker %s (127.0.0.1:%d) is draining" % (name, port))
    worker_events.wait("worker.%s  left" % name)


def test_submit_skill_data_runs_the_script_on_a_worker_with_that_skill(cluster, hello):
    """The original shell's `submit <skill> <data>`: DATA is the script, run once where SKILL is offered."""
    out = titan_ok(cluster.port, ["submit", "GENERAL", hello, "one", "--wait"])
    job = out.splitlines()[0]
    assert "hello from %s args ['one']" % job in out
    requires = [line for line in titan_ok(cluster.port, ["status", job]).splitlines() if line.startswith("requires:")]
    assert requires and requires[0].split()[1] == "GENERAL"
    piped = titan(cluster.port, [], stdin="submit general %s\n" % hello)
    assert piped.returncode == 0, piped.stderr
    piped_job = piped.stdout.split()[0]
    assert titan_ok(cluster.port, ["wait", piped_job]) == "%s COMPLETED\n" % piped_job
    assert "state:      COMPLETED\n" in titan_ok(cluster.port, ["status", piped_job, "--wait"])
    failing = write_script(Path(hello).parent, "fails.sh", "exit 3\n")
    failed_job = titan_ok(cluster.port, ["submit", "GENERAL", failing]).split()[0]
    waited = titan(cluster.port, ["wait", failed_job])
    assert (waited.returncode, waited.stdout) == (5, "%s FAILED\n" % failed_job)
    bad = titan(cluster.port, ["submit", "GENERAL", hello, "--dry-run"])
    assert bad.returncode == 2 and "--dry-run checks a pipeline file" in bad.stderr


def test_deploy_worker_jar_needs_a_port(cluster):
    proc = titan(cluster.port, ["deploy", "Worker.jar"])
    assert proc.returncode == 2 and "titan deploy Worker.jar 8081 [GPU]" in proc.stderr


def test_deploy_takes_the_port_positionally_and_script_arguments_after_dashes(cluster, tmp_path, free_port):
    server = write_script(tmp_path, "server.py", """
        import socket, sys
        print("args", sys.argv[1:], flush=True)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(sys.argv[1])))
        s.listen()
        while True:
            s.accept()[0].close()
    """)
    service = unique_id("srv")
    titan_ok(cluster.port, ["deploy", server, str(free_port), "--id", service, "--", str(free_port), "--verbose"])
    try:
        rows = [line.split() for line in titan_ok(cluster.port, ["services"]).splitlines()]
        row = next(r for r in rows if r[0] == service)
        assert row[4] == str(free_port)  # ID STATE READY WORKER PORT ...
    finally:
        titan_ok(cluster.port, ["stop", service])
    bad = titan(cluster.port, ["deploy", server, str(free_port), "GPU", "extra"])
    assert bad.returncode == 2 and "unexpected 'extra' after FILE [PORT] [REQUIREMENT]" in bad.stderr


def test_run_passes_words_after_dashes_to_the_script_even_after_other_arguments(cluster, hello):
    job = unique_id("args")
    out = titan_ok(cluster.port, ["run", hello, "a", "--id", job, "--wait", "--", "-b", "--c"])
    assert "hello from %s args ['a', '-b', '--c']" % job in out


def test_cli_durations_take_units_and_bare_numbers_are_seconds(cluster, hello):
    bad = titan(cluster.port, ["run", hello, "--delay", "5x"])
    assert bad.returncode == 2
    assert "titan: --delay '5x': use a number with ms, s, m or h, e.g. 500ms or 2s" in bad.stderr
    job = unique_id("later")
    titan_ok(cluster.port, ["run", hello, "--id", job, "--delay", "1h", "--timeout", "1.5"])
    status = titan_ok(cluster.port, ["status", job])
    assert "state:      SCHEDULED\nreason:     delayed 3600000 ms" in status
    assert titan_ok(cluster.port, ["cancel", job]).startswith(job)  # cancel = stop
    assert "state:      CANCELLED" in titan_ok(cluster.port, ["status", job])
    quick = unique_id("quick")
    titan_ok(cluster.port, ["run", hello, "--id", quick, "--delay", "200ms", "--timeout", "1m", "--wait"])


def test_the_shell_on_a_terminal_shows_the_broker_answers_and_exits(cluster, tmp_path):
    master, slave = os.openpty()
    proc = subprocess.Popen([str(titan_bin())], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            env=cli_env(cluster.port, TERM="dumb", HOME=str(tmp_path)))
    os.close(slave)
    screen = LineReader(master)
    try:
        screen.until("titan> ")
        assert "[INFO] TITAN DISTRIBUTED ORCHESTRATOR" in screen.text
        assert "Connected to: 127.0.0.1:%d" % cluster.port in screen.text
        assert "Commands: stats, json, status" in screen.text
        os.write(master, b"stats\r")
        screen.until("Worker Status:")
        screen.until("titan> ", EVENT_DEADLINE_S)
        os.write(master, b"nope\r")
        screen.until("unknown command 'nope'")
        os.write(master, b"exit\r")
        assert proc.wait(EVENT_DEADLINE_S) == 2  # the unknown command was the last failure
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert "stats" in (tmp_path / ".titan_history").read_text()
