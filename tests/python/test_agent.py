# Jobs that use the SDK themselves (seed 002): a job's own TitanClient() reaches the cluster through the
# TITAN_HOST/TITAN_PORT its worker sets, and the recursive agent respawns itself through TitanStore
# memory until it escalates. Also both ways of naming the broker (arguments, environment).
import pytest

from cluster import unique_id, write_script
from titan_sdk import TitanClient, TitanJob, UnknownTypeError

DEADLINE_S = 60

# autonomous_agent.py exactly as seed 002 prints it, except that the fragile task always fails
# (`random.choice([True, False])` -> `False`), so the run is deterministic.
AUTONOMOUS_AGENT = """
from titan_sdk import TitanClient, TitanJob, UnknownTypeError
import random

client = TitanClient()

# 1. Agent wakes up and checks its global memory
# (Defaults to 0 if this is the first time running)
current_attempts = int(client.store_get("agent_retry_count") or 0)
print(f"[INFO] Agent Booting... (Attempt {current_attempts + 1} of 3)")

if current_attempts >= 3:
    print("[ESCALATION] Task failed 3 times. Halting recursion and alerting human.")
    client.store_put("agent_retry_count", "0") # Reset for future runs
    exit(1)

# 2. Attempt the fragile task (e.g., calling an unstable API)
api_success = False

if api_success:
    print("[SUCCESS] Task completed! Agent terminating.")
    client.store_put("agent_retry_count", "0") # Reset memory
else:
    print("[WARNING] Task failed. Agent logging failure and respawning...")

    # 3. Update global memory so the NEXT clone knows what happened
    client.store_put("agent_retry_count", str(current_attempts + 1))

    # 4. Agent dynamically spawns a clone of itself to try again!
    retry_job = TitanJob(
        job_id=f"agent_retry_{current_attempts + 1}",
        filename="autonomous_agent.py"
    )
    client.submit_job(retry_job)
"""


def test_a_job_uses_titan_client_from_inside(broker_client, tmp_path):
    key = unique_id("from-job")
    script = write_script(tmp_path, "producer.py", """
        import os, sys
        from titan_sdk import TitanClient

        client = TitanClient()
        client.store_put(sys.argv[1], "written by " + os.environ["TITAN_JOB_ID"])
        client.store_sadd(sys.argv[1] + ":set", "batch_A.csv")
        print("status of myself:", client.get_job_status(os.environ["TITAN_JOB_ID"]))
    """)
    job_id = unique_id("producer")
    broker_client.submit_job(TitanJob(job_id, script, args=key))
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED", broker_client.fetch_logs(job_id)
    assert broker_client.store_get(key) == "written by " + job_id
    assert broker_client.store_smembers(key + ":set") == ["batch_A.csv"]
    assert broker_client.fetch_logs(job_id) == "status of myself: RUNNING\n"


def test_seed_002_recursive_agent_respawns_three_times_then_escalates(broker_client, tmp_path):
    broker_client.store_delete("agent_retry_count")
    agent = write_script(tmp_path, "autonomous_agent.py", AUTONOMOUS_AGENT)
    root = unique_id("agent")
    broker_client.submit_job(TitanJob(root, agent))
    # Each run submits the next before it exits, so the next id exists once the previous one has ended.
    runs = [root, "agent_retry_1", "agent_retry_2", "agent_retry_3"]
    for attempt, job_id in enumerate(runs, start=1):
        expected = "FAILED" if attempt == 4 else "COMPLETED"
        assert broker_client.wait(job_id, timeout=DEADLINE_S) == expected, broker_client.fetch_logs(job_id)
        assert "(Attempt %d of 3)" % attempt in broker_client.fetch_logs(job_id)
    for job_id in runs[:3]:
        assert "[WARNING] Task failed. Agent logging failure and respawning..." in broker_client.fetch_logs(job_id)
    last = broker_client.fetch_logs("agent_retry_3")
    assert "[ESCALATION] Task failed 3 times. Halting recursion and alerting human." in last
    assert broker_client.get_job("agent_retry_3").exit_code == 1
    assert broker_client.get_job_status("agent_retry_4") is None  # the recursion stopped
    assert broker_client.store_get("agent_retry_count") == "0"


def test_titan_client_finds_the_broker_by_arguments_or_environment(cluster, broker_client, monkeypatch, tmp_path):
    script = write_script(tmp_path, "noop.sh", "true\n")
    monkeypatch.setenv("TITAN_HOST", "127.0.0.1")
    monkeypatch.setenv("TITAN_PORT", str(cluster.port))
    with TitanClient() as from_env, TitanClient(host="localhost", port=cluster.port) as from_args:
        for client in (from_env, from_args):
            job_id = client.submit_job(TitanJob(unique_id("config"), script))
            assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
            client.store_put("config-test", job_id)
            assert broker_client.store_get("config-test") == job_id


def test_submit_is_submit_dag_with_an_agent_run_id(broker_client, tmp_path):
    script = write_script(tmp_path, "noop.sh", "true\n")
    job_id = unique_id("alias")
    assert broker_client.submit("agent_run", [TitanJob(job_id, script)], agent_run_id="run-42") == [job_id]
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.get_job(job_id).dag == "agent_run"


def test_job_calls_on_a_lone_store_say_to_use_the_broker(store):
    with TitanClient(host="127.0.0.1", port=store.port, timeout=5) as c:
        with pytest.raises(UnknownTypeError, match="point TitanClient at the broker"):
            c.get_job_status("x")
