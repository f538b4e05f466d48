# `titan mcp` over stdio, driven by the MCP SDK's own client against a real cluster with keys: the tools it
# lists, a 1->3->1 DAG submitted, waited for and read back through them, a gate approved and one rejected,
# YAML pipelines, TitanStore and artifacts, the resources, and errors that come back as tool errors (an
# unknown job, a refused DAG, bad arguments, a reader's cancel) while the server keeps serving.
import anyio
import pytest

from cluster import unique_id
from mcp_session import call, mcp_session, read_json, read_text, refused
from secure_cluster import client

WAIT_S = 60

TOOLS = {"ping", "cluster_stats", "submit_job", "submit_dag", "submit_pipeline", "job_status", "job_logs", "wait_job",
         "wait_dag", "list_jobs", "list_dags", "list_agent_runs", "agent_run_status", "dag_status", "cancel_job",
         "cancel_dag", "approve_gate", "reject_gate", "store_get", "store_put", "store_incr", "store_smembers",
         "store_sadd", "deploy_script", "publish_artifact", "fetch_artifact"}

MAPPER = """\
import os
from titan_sdk import TitanClient
TitanClient().store_incr(os.environ["COUNTER"], int(os.environ["PART"]))
print("mapper", os.environ["PART"], "added its part")
"""
REDUCER = """\
import os
from titan_sdk import TitanClient
print("fan-in total", TitanClient().store_get(os.environ["COUNTER"]))
"""


def run(scenario, secure, tmp_path, principal="admin"):
    """Runs `scenario(session)` in a fresh `titan mcp` acting with the credential of `principal`."""
    cluster, creds = secure

    async def main():
        async with mcp_session(cluster.port, creds[principal], tmp_path / "mcp.stderr.log") as session:
            await scenario(session)

    anyio.run(main)


def test_tools_and_resource_templates_are_listed_with_descriptions(secure, tmp_path):
    async def scenario(session):
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        assert all(len(t.description) > 40 for t in tools.values())
        job = tools["submit_job"].input_schema
        assert set(job["required"]) == {"id", "filename"}
        assert {"script", "args", "requirement", "priority", "parents", "env"} <= set(job["properties"])
        assert "hitl-gate-" in job["properties"]["hitl_message"]["description"]
        assert tools["job_logs"].annotations.read_only_hint and tools["cancel_dag"].annotations.destructive_hint
        templates = {t.uri_template for t in (await session.list_resource_templates()).resource_templates}
        assert {"titan://jobs/{job_id}/log", "titan://jobs/{job_id}", "titan://dags/{dag_id}"} <= templates
        assert "titan://cluster/stats" in {str(r.uri) for r in (await session.list_resources()).resources}
        ping = await call(session, "ping")
        assert (ping["principal"], ping["role"], ping["workers"]) == ("admin", "admin", 2)

    run(scenario, secure, tmp_path)


def test_a_one_three_one_dag_runs_and_its_fan_in_log_is_read_back(secure, tmp_path):
    name, counter = unique_id("fan"), unique_id("counter")
    split, reduce = unique_id("split"), unique_id("reduce")
    maps = [unique_id("map%d" % part) for part in (1, 2, 3)]
    jobs = ([{"id": split, "filename": "split.sh", "script": "echo split into 3\n"}] +
            [{"id": m, "filename": "map.py", "script": MAPPER, "parents": [split],
              "env": {"COUNTER": counter, "PART": str(part)}} for part, m in enumerate(maps, 1)] +
            [{"id": reduce, "filename": "reduce.py", "script": REDUCER, "parents": maps, "priority": 5,
              "env": {"COUNTER": counter}}])

    async def scenario(session):
        submitted = await call(session, "submit_dag", name=name, jobs=jobs, agent_run_id=name + "-run")
        assert (submitted["dag"], submitted["ids"]) == (name, [split] + maps + [reduce])
        waited = await call(session, "wait_dag", dag_id=name, timeout_seconds=WAIT_S)
        assert (waited["finished"], waited["state"]) == (True, "COMPLETED")
        assert [j["state"] for j in waited["dag"]["jobs"]] == ["COMPLETED"] * 5
        log = await call(session, "job_logs", job_id=reduce, tail_lines=1)
        assert (log["text"], log["complete"]) == ("fan-in total 6\n", True)
        assert (await call(session, "job_logs", job_id=maps[1]))["text"] == "mapper 2 added its part\n"
        assert await read_text(session, "titan://jobs/%s/log" % reduce) == "fan-in total 6\n"
        dag = await read_json(session, "titan://dags/%s" % name)
        assert (dag["state"], dag["done"], dag["agent_run_id"]) == ("COMPLETED", 5, name + "-run")
        assert (await read_json(session, "titan://jobs/%s" % reduce))["parents"] == maps
        assert (await call(session, "store_get", key=counter))["value"] == "6"
        runs = await call(session, "list_agent_runs")
        assert name + "-run" in [r["id"] for r in runs["runs"]]
        listed = await call(session, "list_jobs", dag=name)
        assert {j["id"] for j in listed["jobs"]} == {split, reduce, *maps}

    run(scenario, secure, tmp_path)


def test_gates_are_approved_and_rejected_through_the_tools(secure, tmp_path):
    def gated(dag):
        build, ship = unique_id("build"), unique_id("ship")
        return build, ship, [{"id": build, "filename": "build.sh", "script": "echo built\n", "hitl_message": "Ship?"},
                             {"id": ship, "filename": "ship.sh", "script": "echo shipped\n", "parents": [build]}]

    async def scenario(session):
        for decision in ("approve", "reject"):
            dag = unique_id(decision)
            build, ship, jobs = gated(dag)
            submitted = await call(session, "submit_dag", name=dag, jobs=jobs)
            gate = "hitl-gate-" + build
            assert submitted["ids"] == [build, ship, gate]
            assert (await call(session, "wait_job", job_id=build, timeout_seconds=WAIT_S))["state"] == "COMPLETED"
            waiting = await call(session, "job_status", job_id=gate)  # opened in the turn the job completed
            assert (waiting["state"], waiting["kind"], waiting["message"]) == ("WAITING_APPROVAL", "GATE", "Ship?")
            assert gate in [j["id"] for j in (await call(session, "list_jobs", state="WAITING_APPROVAL"))["jobs"]]
            if decision == "approve":
                assert (await call(session, "approve_gate", gate_id=gate))["state"] == "COMPLETED"
                done = await call(session, "wait_dag", dag_id=dag, timeout_seconds=WAIT_S)
                assert done["state"] == "COMPLETED"
                assert (await call(session, "job_logs", job_id=ship))["text"] == "shipped\n"
                assert (await call(session, "job_status", job_id=gate))["decided_by"] == "admin"
            else:
                assert (await call(session, "reject_gate", gate_id=gate, reason="not today"))["state"] == "FAILED"
                done = await call(session, "wait_dag", dag_id=dag, timeout_seconds=WAIT_S)
                assert done["state"] == "FAILED"
                assert (await call(session, "job_status", job_id=ship))["state"] == "SKIPPED"
            message = await refused(session, "approve_gate", gate_id=gate)  # decided already
            assert "INVALID" in message

    run(scenario, secure, tmp_path)


def test_pipelines_store_and_artifacts(secure, tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "hello.py").write_text("print('hello from the pipeline')\n")
    name, step, key, words = unique_id("yaml"), unique_id("hello"), unique_id("k"), unique_id("words")
    deployed, from_deployed = unique_id("deployed") + ".sh", unique_id("fromdeployed")

    async def scenario(session):
        yaml = "name: %s\njobs:\n  - id: %s\n    script: steps/hello.py\n" % (name, step)
        assert (await call(session, "submit_pipeline", yaml=yaml, folder=str(tmp_path)))["dag"] == name
        assert (await call(session, "wait_dag", dag_id=name, timeout_seconds=WAIT_S))["state"] == "COMPLETED"
        assert (await call(session, "job_logs", job_id=step))["text"] == "hello from the pipeline\n"
        wrong = await refused(session, "submit_pipeline", yaml="name: x\njobs: []\n")
        assert "(pipeline text):2: 'jobs' must be a list of at least one job" in wrong

        assert (await call(session, "store_put", key=key, value="v1"))["ok"] is True
        assert (await call(session, "store_get", key=key))["value"] == "v1"
        assert (await call(session, "store_get", key=key + "-none"))["found"] is False
        assert (await call(session, "store_incr", key=key + "-n", delta=5))["value"] == 5
        assert (await call(session, "store_sadd", key=words, member="a"))["added"] is True
        await call(session, "store_sadd", key=words, member="b")
        assert (await call(session, "store_smembers", key=words))["members"] == ["a", "b"]

        assert (await call(session, "deploy_script", name=deployed, content="echo deployed ran\n"))["name"] == deployed
        await call(session, "submit_job", id=from_deployed, filename=deployed)
        assert (await call(session, "wait_job", job_id=from_deployed, timeout_seconds=WAIT_S))["state"] == "COMPLETED"
        assert (await call(session, "job_logs", job_id=from_deployed))["text"] == "deployed ran\n"

        published = await call(session, "publish_artifact", key=key + "-report", name=key + ".md", content="# Report\n")
        assert published["artifact"]["size"] == 9
        fetched = await call(session, "fetch_artifact", key=key + "-report", save_to=str(tmp_path))
        assert (fetched["text"], fetched["sha256"]) == ("# Report\n", published["artifact"]["sha256"])
        assert (tmp_path / (key + ".md")).read_text() == "# Report\n"
        assert "nothing is published under key" in await refused(session, "fetch_artifact", key=key + "-none")

    run(scenario, secure, tmp_path)


def test_errors_are_tool_errors_with_the_brokers_reason_and_the_server_keeps_serving(secure, tmp_path):
    missing, a, b = unique_id("missing"), unique_id("a"), unique_id("b")

    async def scenario(session):
        assert "no job %r" % missing in await refused(session, "job_status", job_id=missing)
        assert "no job '%s'" % missing in await refused(session, "job_logs", job_id=missing)
        assert "no job" in await refused(session, "wait_job", job_id=missing, timeout_seconds=1)
        assert "no job '%s'" % missing in await refused(session, "cancel_job", job_id=missing)
        assert "no DAG" in await refused(session, "dag_status", dag_id=missing)
        cycle = [{"id": a, "filename": "a.sh", "script": "true\n", "parents": [b]},
                 {"id": b, "filename": "b.sh", "script": "true\n", "parents": [a]}]
        assert "INVALID" in await refused(session, "submit_dag", jobs=cycle)
        assert "not deployed" in await refused(session, "submit_job", id=a, filename=unique_id("nowhere") + ".py")
        assert "limit" in await refused(session, "list_jobs", limit=0)  # the schema's bounds
        assert "either" in await refused(session, "deploy_script", name="x.sh")
        with pytest.raises(Exception, match="no job"):
            await read_text(session, "titan://jobs/%s/log" % missing)
        assert (await call(session, "ping"))["workers"] == 2  # still serving

    run(scenario, secure, tmp_path)


def test_a_reader_may_look_but_its_cancel_is_forbidden(secure, tmp_path):
    cluster, creds = secure
    job = unique_id("sleeper")

    async def as_admin(session):
        await call(session, "submit_job", id=job, filename="sleeper.sh", script="sleep 60\n", delay_seconds=600)

    async def as_reader(session):
        assert (await call(session, "ping"))["role"] == "reader"
        assert (await call(session, "job_status", job_id=job))["state"] == "SCHEDULED"
        message = await refused(session, "cancel_job", job_id=job)
        assert "FORBIDDEN: principal 'rita' (role reader) may not send JOB_STOP" in message
        assert "acts as principal 'rita' (role reader)" in message and "--credentials" in message
        assert "FORBIDDEN" in await refused(session, "submit_job", id=unique_id("no"), filename="x.sh", script="true\n")

    async def cleanup(session):
        assert (await call(session, "cancel_job", job_id=job))["state"] == "CANCELLED"

    run(as_admin, secure, tmp_path)
    run(as_reader, secure, tmp_path, principal="rita")
    run(cleanup, secure, tmp_path)
    with client(cluster, creds["admin"]) as admin:  # the broker audited the refusal under the reader's name
        refusals = [(e.action, e.target, e.outcome) for e in admin.audit(principal="rita")]
    assert ("JOB_STOP", job, "FORBIDDEN") in refusals


def test_the_timeout_argument_sets_the_clients_and_is_checked():
    """`titan --timeout MS mcp` passes --timeout SECONDS on (cli/mcp_command.cc): each call waits that long."""
    from titan_mcp.__main__ import parse
    assert parse(["--timeout", "2.5"]).timeout == 2.5
    assert parse([]).timeout is None  # the SDK's (TITAN_TIMEOUT, else its default)
    with pytest.raises(SystemExit):
        parse(["--timeout", "0"])
