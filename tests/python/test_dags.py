# DAG records and agent runs against a real cluster: DAG ids (name, name#N) and client.last_dag,
# get_dag/list_dags, agent_run_id linking several submissions into one run, cancel_dag, and re-running a
# finished DAG (the SDK and `titan dag-rerun`).
import pytest

from cli import titan, titan_ok
from cluster import unique_id, write_script
from titan_sdk import InvalidError, JobInfo, TitanJob

DEADLINE_S = 60


@pytest.fixture
def noop(tmp_path):
    return write_script(tmp_path, "noop.sh", "true\n")


def test_a_reused_name_gets_a_numbered_dag_id(broker_client, noop):
    name = unique_id("nightly")
    a, b = unique_id("a"), unique_id("b")
    broker_client.submit_dag(name, [TitanJob(a, noop)])
    assert broker_client.last_dag == name
    broker_client.submit_dag(name, [TitanJob(b, noop)])
    assert broker_client.last_dag == name + "#2"
    first, second = broker_client.wait_dag(name, DEADLINE_S), broker_client.wait_dag(name + "#2", DEADLINE_S)
    assert [j.id for j in first["jobs"]] == [a] and [j.id for j in second["jobs"]] == [b]
    assert (second["id"], second["name"], second["state"], second["agent_run_id"]) == (name + "#2", name,
                                                                                       "COMPLETED", None)
    assert isinstance(second["jobs"][0], JobInfo) and second["finished_ms"] >= second["submitted_ms"]
    assert [d["id"] for d in broker_client.list_dags(limit=2)] == [name + "#2", name]  # newest first


def test_submit_job_makes_a_dag_named_after_the_job(broker_client, noop):
    job = broker_client.submit_job(TitanJob(unique_id("single"), noop))
    assert broker_client.last_dag == job
    assert broker_client.wait_dag(job, DEADLINE_S)["state"] == "COMPLETED"


def test_unknown_dags(broker_client):
    missing = unique_id("no-such-dag")
    assert broker_client.get_dag(missing) is None
    assert broker_client.get_run(missing) is None
    with pytest.raises(InvalidError, match="no DAG"):
        broker_client.cancel_dag(missing)
    with pytest.raises(InvalidError, match="no DAG"):
        broker_client.wait_dag(missing)


def test_agent_run_id_links_two_submissions_into_one_run(broker_client, noop):
    run = unique_id("run")
    plan, execute = unique_id("PLAN"), unique_id("EXECUTE")
    broker_client.submit_dag(plan, [TitanJob(unique_id("planner"), noop)], agent_run_id=run)
    broker_client.wait_dag(plan, DEADLINE_S)
    workers = [TitanJob(unique_id("exec"), noop) for _ in range(3)]
    broker_client.submit_dag(execute, workers, agent_run_id=run)
    broker_client.wait_dag(execute, DEADLINE_S)
    (listed,) = [r for r in broker_client.list_runs() if r["id"] == run]
    assert (listed["jobs"], listed["done"], listed["failed"], listed["state"]) == (4, 4, 0, "COMPLETED")
    got = broker_client.get_run(run)
    assert got["jobs"] == 4 and [d["id"] for d in got["dags"]] == [plan, execute]  # oldest first
    assert [len(d["jobs"]) for d in got["dags"]] == [1, 3]
    assert all(d["agent_run_id"] == run for d in got["dags"])
    assert [d["id"] for d in broker_client.list_dags(agent_run_id=run)] == [execute, plan]


def test_cancel_dag_stops_running_and_waiting_jobs(broker_client, tmp_path):
    sleeper = write_script(tmp_path, "sleeper.py", """
        import time
        print("started", flush=True)
        time.sleep(300)
    """)
    a, b, after = unique_id("sleep-a"), unique_id("sleep-b"), unique_id("after")
    dag = unique_id("sleepy")
    jobs = [TitanJob(a, sleeper), TitanJob(b, sleeper), TitanJob(after, sleeper, parents=[a, b])]
    broker_client.submit_dag(dag, jobs)
    for job in (a, b):
        assert next(broker_client.stream_logs(job)) == "started\n"  # running now
    assert broker_client.get_job(after).state == "BLOCKED"
    assert broker_client.cancel_dag(dag)["id"] == dag
    result = broker_client.wait_dag(dag, timeout=DEADLINE_S)
    assert {j.id: j.state for j in result["jobs"]} == {a: "CANCELLED", b: "CANCELLED", after: "CANCELLED"}
    assert (result["state"], result["done"], result["failed"]) == ("CANCELLED", 3, 3)


def test_a_finished_dag_runs_again_as_a_new_dag_of_the_same_name(broker_client, noop):
    name = unique_id("again")
    a, b = unique_id("a"), unique_id("b")
    broker_client.submit_dag(name, [TitanJob(a, noop), TitanJob(b, noop, parents=[a])])
    assert broker_client.wait_dag(name, timeout=60)["state"] == "COMPLETED"
    again = broker_client.rerun_dag(name)
    assert again == name + "#2" and broker_client.last_dag == again
    dag = broker_client.wait_dag(again, timeout=60)
    assert dag["state"] == "COMPLETED" and [j.id for j in dag["jobs"]] == [a, b]
    assert [j.run for j in dag["jobs"]] == [2, 2]
    with pytest.raises(InvalidError, match="no DAG"):
        broker_client.rerun_dag(unique_id("never"))


def test_the_cli_reruns_a_finished_dag_and_says_why_it_cannot(cluster, broker_client, tmp_path):
    hold = write_script(tmp_path, "hold.sh", 'while [ ! -f "$1" ]; do sleep 0.05; done\n')
    flag = tmp_path / "flag"
    name, a = unique_id("cli-again"), unique_id("a")
    broker_client.submit_dag(name, [TitanJob(a, hold, args=str(flag))])
    running = titan(cluster.port, ["dag-rerun", name])
    assert running.returncode == 3, running.stderr
    assert "has not finished" in running.stderr and "titan dag-cancel %s" % name in running.stderr, running.stderr
    flag.write_text("go")
    assert broker_client.wait_dag(name, timeout=DEADLINE_S)["state"] == "COMPLETED"
    out = titan_ok(cluster.port, ["dag-rerun", name, "--wait"])
    assert out.startswith("dag: %s#2\njobs: %s\n" % (name, a)), out
    again = broker_client.get_job(a)
    assert (again.run, again.state, again.dag) == (2, "COMPLETED", name + "#2")
    missing = titan(cluster.port, ["dag-rerun", unique_id("never")])
    assert missing.returncode == 3 and "no DAG" in missing.stderr, missing.stderr
