# Seed parity: what a user of the original Titan tripped over, each on real processes (a broker, a
# store and workers), through the SDK and the CLI as a user would run them. Test names say what broke.
import json
import os
import subprocess
import textwrap
import urllib.request
from pathlib import Path

import pytest

from cli import titan_ok
from cluster import Cluster, unique_id, write_script
from conftest import client_of
from node_process import titan_bin
from titan_sdk import InvalidError, TitanJob

DEADLINE_S = 60

SERVER = """
    # An HTTP server that binds the port it is given: `--port N` in its args, else PORT in its
    # environment, else 8000 (the default a server falls back to when nobody tells it).
    import http.server, os, sys
    port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else int(os.environ.get("PORT", "8000"))
    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("hello on %d" % port).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", port), Hello).serve_forever()
"""


def get(port: int) -> str:
    with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=10) as r:
        return r.read().decode()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A cluster of its own whose two workers (pa: SIDE_A, pb: SIDE_B) share one data folder, so a test
    can place each job on a chosen worker and nothing else runs there."""
    c = Cluster(tmp_path_factory.mktemp("pair"), workers=(("pa", ["--tag", "SIDE_A"]), ("pb", ["--tag", "SIDE_B"])))
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture
def pair_client(pair, monkeypatch):
    with client_of(pair, monkeypatch) as c:
        yield c


@pytest.fixture
def server(tmp_path):
    return write_script(tmp_path, "server.py", SERVER)


@pytest.fixture
def hello(tmp_path):
    return write_script(tmp_path, "hello.py", "print('hello')\n")


# ---- 1. A service is told its port ------------------------------------------------------------------

@pytest.mark.parametrize("how", ["args", "env"])
def test_a_service_is_told_its_port(broker_client, server, free_port, how):
    sid = unique_id("api")
    args = "--port {port}" if how == "args" else None
    broker_client.submit_job(TitanJob(sid, server, job_type="SERVICE", port=free_port, args=args))
    try:
        assert broker_client.wait(sid, timeout=DEADLINE_S) == "RUNNING"  # a service: until it is up
        info = broker_client.get_job(sid)
        assert (info.job_type, info.port, info.ready, info.restarts) == ("SERVICE", free_port, True, 0)
        assert get(free_port) == "hello on %d" % free_port
    finally:
        broker_client.stop_job(sid)
    assert broker_client.wait(sid, timeout=DEADLINE_S) == "CANCELLED"


def test_titan_deploy_tells_the_service_its_port(cluster, broker_client, server, free_port):
    sid = unique_id("deployed")
    titan_ok(cluster.port, ["deploy", server, "--port", str(free_port), "--id", sid])
    try:
        assert broker_client.wait(sid, timeout=DEADLINE_S) == "RUNNING"
        assert get(free_port) == "hello on %d" % free_port
    finally:
        broker_client.stop_job(sid)


# ---- 2. A DAG with a service is done once its service is up ----------------------------------------

def write_service_pipeline(folder: Path, name: str, port: int) -> Path:
    write_script(folder, "extract.py", "print('extracted')\n")
    write_script(folder, "server.py", SERVER)
    path = folder / (name + ".yaml")
    path.write_text(textwrap.dedent("""
        name: "%(name)s"
        jobs:
          - id: "EXTRACT-%(name)s"
            script: "extract.py"
          - id: "DEPLOY_API-%(name)s"
            type: "SERVICE"
            script: "server.py"
            port: %(port)d
            dependencies: ["EXTRACT-%(name)s"]
        """) % {"name": name, "port": port})
    return path


def test_submit_wait_returns_when_the_dags_service_is_ready(cluster, broker_client, tmp_path, free_port):
    name = unique_id("etl")
    pipeline = write_service_pipeline(tmp_path, name, free_port)
    try:
        dag = broker_client.submit_yaml(pipeline, wait=True, timeout=DEADLINE_S)
        assert dag["state"] == "COMPLETED"
        states = {j.id: (j.state, j.ready) for j in dag["jobs"]}
        assert states == {"EXTRACT-" + name: ("COMPLETED", None), "DEPLOY_API-" + name: ("RUNNING", True)}
        assert get(free_port) == "hello on %d" % free_port
        assert "DEPLOY_API-" + name in titan_ok(cluster.port, ["services"])  # still running, still listed
    finally:
        broker_client.stop_job("DEPLOY_API-" + name)
    assert broker_client.wait("DEPLOY_API-" + name, timeout=DEADLINE_S) == "CANCELLED"


def test_titan_submit_wait_exits_when_the_dags_service_is_ready(cluster, broker_client, tmp_path, free_port):
    name = unique_id("etl")
    pipeline = write_service_pipeline(tmp_path, name, free_port)
    try:
        out = titan_ok(cluster.port, ["submit", str(pipeline), "--wait"])
        assert "COMPLETED" in out
        assert broker_client.get_job("DEPLOY_API-" + name).state == "RUNNING"
    finally:
        broker_client.stop_job("DEPLOY_API-" + name)


# ---- 3. A pipeline can be submitted again; earlier runs stay as history -----------------------------

def test_a_pipeline_can_be_submitted_again_and_earlier_runs_stay_queryable(cluster, broker_client, tmp_path):
    extract = write_script(tmp_path, "extract.py", "import os\nprint('run', os.environ['TITAN_ATTEMPT'])\n")
    train = write_script(tmp_path, "train.py", "print('trained')\n")
    a, b, name = unique_id("extract_data"), unique_id("train_model"), unique_id("nightly_pipeline")
    for night in (1, 2):  # the seed's SDK example, submitted on two nights
        jobs = [TitanJob(job_id=a, filename=extract, priority=5),
                TitanJob(job_id=b, filename=train, parents=[a])]
        broker_client.submit_dag(name, jobs)
        assert broker_client.wait_dag(broker_client.last_dag, timeout=DEADLINE_S)["state"] == "COMPLETED"
    latest = broker_client.get_job(a)
    assert (latest.run, latest.attempt, latest.state) == (2, 1, "COMPLETED")
    first = broker_client.get_job(a, run=1)
    assert (first.run, first.state, first.dag) == (1, "COMPLETED", name)
    assert latest.dag == name + "#2"
    assert [j.run for j in broker_client.job_history(b)] == [1, 2]
    assert broker_client.fetch_logs(a) == "run 1\n" and broker_client.fetch_logs(a, run=1) == "run 1\n"
    history = titan_ok(cluster.port, ["status", a, "--history"])
    assert history.splitlines()[0].split()[:2] == ["RUN", "STATE"]
    assert [line.split()[:2] for line in history.splitlines()[1:]] == [["1", "COMPLETED"], ["2", "COMPLETED"]]
    assert "run:" in titan_ok(cluster.port, ["status", a])
    assert titan_ok(cluster.port, ["logs", a, "--run", "1"]) == "run 1\n"


def test_an_id_whose_job_is_still_live_is_refused_saying_so(broker_client, hello):
    job = unique_id("live")
    broker_client.submit_job(TitanJob(job, hello, delay=600000))
    try:
        with pytest.raises(InvalidError, match="run 1 of it is still SCHEDULED"):
            broker_client.submit_job(TitanJob(job, hello))
    finally:
        broker_client.stop_job(job)
    broker_client.submit_job(TitanJob(job, hello))  # ended (cancelled): free again
    assert broker_client.wait(job, timeout=DEADLINE_S) == "COMPLETED"


# ---- 4. Files sent with jobs are staged in perm_files ----------------------------------------------

def test_a_file_sent_with_a_job_is_staged_and_a_later_job_runs_it_by_name(broker_client, tmp_path, monkeypatch):
    name = unique_id("hi") + ".py"
    script = write_script(tmp_path, name, "print('hi from a staged file')\n")
    first = unique_id("send")
    broker_client.submit_job(TitanJob(first, script))
    assert broker_client.wait(first, timeout=DEADLINE_S) == "COMPLETED"
    assert name in {a["name"] for a in broker_client.list_artifacts("perm_files")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the name is not a file here: the broker runs what it staged
    later = unique_id("by-name")
    broker_client.submit_job(TitanJob(later, name))
    assert broker_client.wait(later, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.fetch_logs(later) == "hi from a staged file\n"


# ---- 5. Workers on one machine share one folder -----------------------------------------------------

def test_a_dag_child_on_another_local_worker_reads_its_parents_file(pair_client, tmp_path):
    tag = unique_id("handoff")
    writer = write_script(tmp_path, "write_%s.py" % tag.replace("-", "_"), """
        import os
        here = os.path.dirname(os.path.abspath(__file__))
        assert here == os.environ["TITAN_SHARED_DIR"] == os.getcwd(), (here, os.getcwd())
        with open(os.path.join(here, "%s.txt"), "w") as f:
            f.write("from the parent")
    """ % tag)
    reader = write_script(tmp_path, "read_%s.py" % tag.replace("-", "_"), """
        print(open("%s.txt").read())
    """ % tag)
    parent, child = unique_id("parent"), unique_id("child")
    pair_client.submit_dag(tag, [TitanJob(parent, writer, requirement="SIDE_A"),
                                 TitanJob(child, reader, requirement="SIDE_B", parents=[parent])])
    dag = pair_client.wait_dag(tag, timeout=DEADLINE_S)
    assert dag["state"] == "COMPLETED", pair_client.fetch_logs(parent) + pair_client.fetch_logs(child)
    assert {j.id: j.worker for j in dag["jobs"]} == {parent: "pa", child: "pb"}
    assert pair_client.fetch_logs(child) == "from the parent\n"


# ---- 6. Affinity follows the job that spawned a sub-task -------------------------------------------

def test_a_sub_task_with_affinity_runs_on_the_worker_of_the_job_that_spawned_it(pair_client, tmp_path):
    child_script = write_script(tmp_path, "sub_task.py", "print('sub-task')\n")
    child = unique_id("sub")
    spawner = write_script(tmp_path, "spawner.py", """
        from titan_sdk import TitanClient, TitanJob
        client = TitanClient()  # TITAN_HOST/TITAN_PORT from the worker
        client.submit_job(TitanJob(job_id=%r, filename=%r, affinity=True))
        print("child", client.wait(%r, timeout=60))
    """ % (child, child_script, child))
    job = unique_id("spawner")
    pair_client.submit_job(TitanJob(job, spawner))  # holds a slot on its worker while the child runs
    assert pair_client.wait(job, timeout=DEADLINE_S) == "COMPLETED", pair_client.fetch_logs(job)
    assert pair_client.fetch_logs(job) == "child COMPLETED\n"
    assert pair_client.get_job(child).worker == pair_client.get_job(job).worker


# ---- 7. TitanJob.delay is milliseconds, as in the original SDK --------------------------------------

def test_titan_job_delay_is_milliseconds(broker_client, hello):
    job = unique_id("delayed")
    broker_client.submit_job(TitanJob(job, hello, delay=1500))
    info = broker_client.get_job(job)
    assert info.state == "SCHEDULED" and info.reason == "delayed 1500 ms"
    assert broker_client.wait(job, timeout=DEADLINE_S) == "COMPLETED"
    info = broker_client.get_job(job)
    assert info.started_ms - info.submitted_ms >= 1500


# ---- 8. Service uptime counts from its last restart; tail prints each RUNNING once ------------------

def test_services_uptime_counts_from_the_last_restart(cluster, broker_client, tmp_path, free_port):
    flaky = write_script(tmp_path, "flaky.py", textwrap.dedent("""
        import os, sys
        marker = os.path.join(%r, "started-once")
        if not os.path.exists(marker):
            open(marker, "w").close()
            sys.exit(1)  # the first process crashes; the restarted one serves
    """) % str(tmp_path) + textwrap.dedent(SERVER))
    sid = unique_id("flaky")
    broker_client.submit_job(TitanJob(sid, flaky, job_type="SERVICE", port=free_port))
    try:
        assert broker_client.wait(sid, timeout=DEADLINE_S) == "RUNNING"
        info = broker_client.get_job(sid)
        assert info.restarts == 1
        crashed_at = os.stat(tmp_path / "started-once").st_mtime * 1000
        assert info.up_since_ms >= crashed_at and info.up_since_ms > info.started_ms
        (listed,) = [s for s in json.loads(titan_ok(cluster.port, ["services", "--json"])) if s["id"] == sid]
        assert listed["up_since_ms"] == info.up_since_ms and listed["restarts"] == 1
    finally:
        broker_client.stop_job(sid)


def test_titan_tail_prints_each_running_transition_once(cluster, broker_client, hello):
    tail = subprocess.Popen([str(titan_bin()), "--port", str(cluster.port), "tail", "--jobs", "--workers",
                             "--heartbeats"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env={k: v for k, v in os.environ.items() if not k.startswith("TITAN_")})
    try:
        while "heartbeat" not in tail.stdout.readline():  # subscribed once a heartbeat reaches it
            pass  # events of earlier tests' jobs may come first
        job = unique_id("tailed")
        broker_client.submit_job(TitanJob(job, hello))
        assert broker_client.wait(job, timeout=DEADLINE_S) == "COMPLETED"
        lines = []
        while not any(("job." + job) in l and "COMPLETED" in l for l in lines):
            lines.append(tail.stdout.readline())
    finally:
        tail.terminate()
        tail.wait(timeout=10)
    assert sum(1 for l in lines if ("job." + job) in l and "  RUNNING  " in l) == 1, lines


# ---- The original Titan's own conventions -----------------------------------------------------------

def test_job_type_task_runs_once_like_run_payload(broker_client, hello):
    job = unique_id("task")
    broker_client.submit_job(TitanJob(job, hello, job_type="TASK"))
    assert broker_client.wait(job, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.get_job(job).job_type is None


def test_parents_may_carry_the_original_dag_prefix(broker_client, hello):
    a, b = unique_id("extract"), unique_id("load")
    broker_client.submit_dag(unique_id("prefixed"), [TitanJob(a, hello), TitanJob(b, hello, parents=["DAG-" + a])])
    assert broker_client.wait(b, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.get_job(b).parents == [a]
    assert broker_client.get_job("DAG-" + b).id == b


def test_an_absolute_path_to_nothing_raises_file_not_found_at_construction(tmp_path):
    missing = str(tmp_path / "nowhere" / "train.py")
    with pytest.raises(FileNotFoundError, match="nowhere/train.py") as e:
        TitanJob("train", missing)
    assert e.value.filename == missing
    TitanJob("train", "train.py")  # a relative name may be a deployed script: checked at submit


def test_a_standalone_job_runs_in_its_own_folder_and_a_dag_job_in_the_shared_one(broker_client, tmp_path):
    where = write_script(tmp_path, "where.py", """
        import os
        print(os.getcwd() == os.environ["TITAN_SHARED_DIR"], os.getcwd() == os.environ["TITAN_JOB_DIR"],
              os.path.dirname(os.path.abspath(__file__)) == os.getcwd())
    """)
    alone = unique_id("alone")
    broker_client.submit_job(TitanJob(alone, where))
    first, second = unique_id("first"), unique_id("second")
    broker_client.submit_dag(unique_id("where"), [TitanJob(first, where), TitanJob(second, where, parents=[first])])
    for job in (alone, second):
        assert broker_client.wait(job, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.fetch_logs(alone) == "False True True\n"
    assert broker_client.fetch_logs(first) == "True False True\n"
    assert broker_client.fetch_logs(second) == "True False True\n"


def test_two_different_scripts_of_one_name_in_dags_at_once_each_run_their_own(broker_client, tmp_path):
    gate = unique_id("release")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    slow = write_script(tmp_path / "a", "step.py", """
        import time
        from titan_sdk import TitanClient
        client = TitanClient()
        while client.store_get(%r) is None:  # holds step.py until the other one has run
            time.sleep(0.05)
        print("A")
    """ % gate)
    fast = write_script(tmp_path / "b", "step.py", "print('B')\n")
    a1, a2 = unique_id("a1"), unique_id("a2")
    b1, b2 = unique_id("b1"), unique_id("b2")
    broker_client.submit_dag(unique_id("dag-a"), [TitanJob(a1, slow), TitanJob(a2, slow, parents=[a1])])
    # Both step.py run from the shared folder: the second is placed in its own folder, never over the first.
    assert broker_client.get_job(a1).state in ("QUEUED", "RUNNING")
    broker_client.submit_dag(unique_id("dag-b"), [TitanJob(b1, fast), TitanJob(b2, fast, parents=[b1])])
    assert broker_client.wait(b2, timeout=DEADLINE_S) == "COMPLETED"
    broker_client.store_put(gate, "go")
    assert broker_client.wait(a2, timeout=DEADLINE_S) == "COMPLETED"
    assert [broker_client.fetch_logs(j) for j in (a1, a2, b1, b2)] == ["A\n", "A\n", "B\n", "B\n"]
