# The Joblet-shaped API (seed 003, docs/joblet.md) against a real cluster: client.jobs (run_job, status,
# stop, delete, logs, list, workflows), health_check, monitoring, JobletClient and Joblet's exceptions; and
# JOB_DELETE through the Titan-shaped SDK and `titan delete`. Waits use JOB_WAIT with deadlines.
import datetime

import pytest

from cli import titan
from cluster import unique_id, wait_until, write_script
from titan_sdk import InvalidError, JobNotFoundError, TitanJob
from titan_sdk import joblet
from titan_sdk.joblet import (AuthenticationError, ConnectionError, JobletClient, JobletException, NetworkError,
                              RuntimeNotFoundError, TimeoutError, ValidationError, WorkflowNotFoundError)

DEADLINE_S = 60


def finished_script_job(client, tmp_path, body="print('joblet says hi')"):
    script = write_script(tmp_path, "hi.py", body)
    job_id = unique_id("joblet-script")
    client.submit_job(TitanJob(job_id, script))
    assert client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
    return job_id


def test_delete_job_removes_a_finished_job_with_its_output_and_frees_its_id(broker_client, tmp_path):
    job_id = finished_script_job(broker_client, tmp_path)
    assert "joblet says hi" in broker_client.fetch_logs(job_id)
    assert broker_client.delete_job(job_id) is True
    assert broker_client.get_job(job_id) is None
    assert broker_client.fetch_logs(job_id) == ""
    assert job_id not in [j.id for j in broker_client.list_jobs(limit=10000)]
    with pytest.raises(JobNotFoundError):
        broker_client.delete_job(job_id)
    # The id is free: a new job with it runs as its first run.
    broker_client.submit_job(TitanJob(job_id, write_script(tmp_path, "again.py", "print('again')")))
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.get_job(job_id).run == 1


def test_a_running_job_or_a_dag_member_is_not_deleted_and_joblet_gets_the_reason(broker_client, tmp_path):
    sleeper = write_script(tmp_path, "sleeper.py", "import time\ntime.sleep(600)")
    job_id = unique_id("busy")
    broker_client.submit_job(TitanJob(job_id, sleeper))
    with pytest.raises(InvalidError, match="stop it first"):
        broker_client.delete_job(job_id)
    refused = broker_client.jobs.delete_job(job_id)
    assert refused["success"] is False and "stop it first" in refused["message"]
    broker_client.stop_job(job_id)
    assert broker_client.wait(job_id, timeout=DEADLINE_S) == "CANCELLED"
    assert broker_client.jobs.delete_job(job_id) == {"job_uuid": job_id, "success": True,
                                                     "message": "job %s deleted" % job_id}

    hi = write_script(tmp_path, "a.py", "print('a')")
    a, b = unique_id("dag-a"), unique_id("dag-b")
    broker_client.submit_dag(unique_id("pair"), [TitanJob(a, hi), TitanJob(b, hi, parents=[a])])
    broker_client.wait_dag(broker_client.last_dag, timeout=DEADLINE_S)
    with pytest.raises(InvalidError, match="other jobs as DAG"):
        broker_client.delete_job(a)


def test_titan_delete_deletes_and_names_what_is_wrong(cluster, broker_client, tmp_path):
    job_id = finished_script_job(broker_client, tmp_path)
    done = titan(cluster.port, ["delete", job_id])
    assert done.returncode == 0 and "job %s deleted" % job_id in done.stdout, done.stderr
    again = titan(cluster.port, ["delete", job_id])
    assert again.returncode == 3 and "no job '%s'" % job_id in again.stderr


def test_joblet_status_list_logs_and_stop_of_titan_jobs(broker_client, tmp_path):
    job_id = finished_script_job(broker_client, tmp_path, "print('line one')\nprint('line two')")
    status = broker_client.jobs.get_job_status(job_id)
    assert status["job_uuid"] == job_id and status["status"] == "completed" and status["exit_code"] == 0
    assert status["command"] == "hi.py" and status["args"] == []
    assert status["start_time"].endswith("Z") and status["end_time"] >= status["start_time"]
    assert job_id in [j["job_uuid"] for j in broker_client.jobs.list_jobs()]
    assert b"".join(broker_client.jobs.get_job_logs(job_id)) == b"line one\nline two\n"
    with pytest.raises(JobNotFoundError):
        broker_client.jobs.get_job_status(unique_id("never"))

    sleeper = unique_id("sleeper")
    broker_client.submit_job(TitanJob(sleeper, write_script(tmp_path, "s.py", "import time\ntime.sleep(600)")))
    wait_until("the sleeper runs", lambda: broker_client.get_job(sleeper).state == "RUNNING", DEADLINE_S)
    # Joblet's stop returns once the job has stopped: "cancelled", and it may be deleted at once.
    assert broker_client.jobs.stop_job(sleeper) == {"job_uuid": sleeper, "status": "cancelled", "success": True}
    assert broker_client.jobs.get_job_status(sleeper)["status"] == "cancelled"
    assert broker_client.jobs.delete_job(sleeper)["success"] is True


def test_run_job_runs_a_command_with_its_args_as_given(broker_client):
    job = broker_client.jobs.run_job(command="echo", args=["Hello, World!", "two  spaces"], name="my-first-job")
    assert job["job_uuid"].startswith("my-first-job-") and job["name"] == "my-first-job"
    assert job["status"] in ("pending", "running", "completed") and job["command"] == "echo"
    assert job["args"] == ["Hello, World!", "two  spaces"]
    assert broker_client.wait(job["job_uuid"], timeout=DEADLINE_S) == "COMPLETED"
    assert b"".join(broker_client.jobs.get_job_logs(job["job_uuid"])) == b"Hello, World! two  spaces\n"
    assert broker_client.jobs.get_job_status(job["job_uuid"])["exit_code"] == 0


def test_run_job_with_uploads_environment_secrets_and_a_schedule(broker_client):
    uploads = [{"path": "script.py", "content": b"import os\nprint('uploaded', os.environ['LOG_LEVEL'], "
                                                b"os.environ['API_KEY'])", "mode": 0o755}]
    job = broker_client.jobs.run_job(command="python3", args=["script.py"], uploads=uploads, name="uploaded-script",
                                     environment={"LOG_LEVEL": "INFO"},
                                     secret_environment={"API_KEY": "super-secret"})
    assert broker_client.wait(job["job_uuid"], timeout=DEADLINE_S) == "COMPLETED"
    assert b"".join(broker_client.jobs.get_job_logs(job["job_uuid"])) == b"uploaded INFO ****\n"
    # Regular environment shows in status (seed 003); a secret's value never does.
    status = broker_client.jobs.get_job_status(job["job_uuid"])
    assert status["environment"] == {"LOG_LEVEL": "INFO"}
    assert "super-secret" not in repr(status)

    tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = broker_client.jobs.run_job(command="true", schedule=tomorrow, name="tomorrow")
    assert later["status"] == "scheduled" and later["scheduled_time"] == tomorrow
    broker_client.jobs.stop_job(later["job_uuid"])
    with pytest.raises(ValidationError, match="ISO 8601"):
        broker_client.jobs.run_job(command="true", schedule="tomorrow-ish")


def test_a_network_other_than_the_workers_own_is_refused_with_why(broker_client):
    with pytest.raises(NetworkError, match="does not isolate networks") as e:
        broker_client.jobs.run_job(command="true", network="microservices-net")
    assert isinstance(e.value, JobletException)


def test_run_workflow_runs_a_joblet_workflow_with_its_files(broker_client):
    extract, load = unique_id("extract"), unique_id("load")
    workflow_yaml = """
version: "1.0"
name: "data-pipeline"
jobs:
  - name: "%s"
    command: "python3"
    args: ["extract.py"]
  - name: "%s"
    command: "python3"
    args: ["load.py", "done"]
    depends_on: ["%s"]
""" % (extract, load, extract)
    files = [{"path": "extract.py", "content": "print('extracted')"},
             {"path": "load.py", "content": b"import sys\nprint('loaded', sys.argv[1])"}]
    name = unique_id("my-data-pipeline")
    workflow = broker_client.jobs.run_workflow(workflow=name, yaml_content=workflow_yaml, workflow_files=files)
    uuid = workflow["workflow_uuid"]
    assert workflow["total_jobs"] == 2 and workflow["jobs"] == [extract, load]
    broker_client.wait_dag(uuid, timeout=DEADLINE_S)
    status = broker_client.jobs.get_workflow_status(uuid)
    assert (status["status"], status["completed_jobs"], status["failed_jobs"]) == ("completed", 2, 0)
    assert uuid in [w["workflow_uuid"] for w in broker_client.jobs.list_workflows(include_completed=True)]
    assert uuid not in [w["workflow_uuid"] for w in broker_client.jobs.list_workflows()]
    jobs = broker_client.jobs.get_workflow_jobs(uuid)
    assert [j["status"] for j in jobs] == ["completed", "completed"]
    assert b"loaded done" in b"".join(broker_client.jobs.get_job_logs(load))
    with pytest.raises(WorkflowNotFoundError):
        broker_client.jobs.get_workflow_status(unique_id("no-such-workflow"))


def test_run_workflow_names_a_workflow_without_a_name_by_its_argument_or_file(broker_client, tmp_path):
    """Seed 003's "Workflow Dependencies" YAML has only `jobs`: run_workflow's `workflow` names it."""
    first, second = unique_id("download-data"), unique_id("process-data")
    fragment = """
jobs:
  - name: "%s"
    command: "sh"
    args: ["-c", "echo '{}' > data.json"]
  - name: "%s"
    command: "cat"
    args: ["data.json"]
    depends_on: ["%s"]
""" % (first, second, first)
    name = unique_id("deps")
    workflow = broker_client.jobs.run_workflow(workflow=name, yaml_content=fragment)
    assert workflow["workflow_uuid"] == name and workflow["jobs"] == [first, second]
    assert broker_client.wait_dag(name, timeout=DEADLINE_S)["state"] == "COMPLETED"
    assert b"".join(broker_client.jobs.get_job_logs(second)) == b"{}\n"

    path = tmp_path / (unique_id("deps-file") + ".yaml")
    path.write_text(fragment.replace(first, first + "-f").replace(second, second + "-f"))
    from_file = broker_client.jobs.run_workflow(str(path))
    assert from_file["workflow_uuid"] == path.stem
    assert broker_client.wait_dag(path.stem, timeout=DEADLINE_S)["state"] == "COMPLETED"


def test_run_job_with_a_runtime_no_worker_offers_is_refused_as_joblet_refuses_it(broker_client):
    before = len(broker_client.list_jobs(limit=10000))
    with pytest.raises(RuntimeNotFoundError, match="no live worker offers it") as e:
        broker_client.jobs.run_job(command="echo", args=["x"], runtime="node-18")
    assert isinstance(e.value, JobletException)
    assert len(broker_client.list_jobs(limit=10000)) == before  # nothing was submitted


def test_validate_runtime_spec_checks_the_name_and_whether_a_worker_offers_it(broker_client):
    bad = broker_client.runtimes.validate_runtime_spec("python 3.11/../x")
    assert bad["valid"] is False and "not a runtime name" in bad["message"]
    good = broker_client.runtimes.validate_runtime_spec("python-3.12-custom")
    assert (good["valid"], good["available"], good["language"], good["version"]) == (True, False, "python", "3.12")
    assert "--runtime python-3.12-custom=PATH" in good["message"]


def test_health_check_and_monitoring_report_the_cluster(cluster, broker_client, free_port):
    assert broker_client.health_check() is True
    with JobletClient(host="127.0.0.1", port=free_port, options={"timeout": 0.5}) as dead:
        assert dead.health_check() is False
    status = wait_until("workers report their machines", lambda: (
        lambda s: s if len(s["workers"]) >= 2 and s["cpu"]["cores"] else None)(
            broker_client.monitoring.get_system_status()))
    assert status["available"] is True and 0 <= status["cpu"]["usage_percent"] <= 100
    assert 0 < status["memory"]["usage_percent"] <= 100 and status["memory"]["total_bytes"] > 0
    assert {w["name"] for w in status["workers"]} >= {"w1", "w2"}
    assert status["disks"] and all(0 <= d["usage_percent"] <= 100 for d in status["disks"])
    w1 = broker_client.monitoring.get_system_status(worker="w1")
    assert w1["name"] == "w1" and w1["jobs"]["slots"] == 4
    sample = next(broker_client.monitoring.stream_system_metrics(interval_seconds=1, metric_types=["cpu"]))
    assert set(sample) == {"cpu", "timestamp", "available"}


def test_joblet_client_connects_by_joblet_arguments_and_raises_joblet_exceptions(cluster, tmp_path, free_port):
    with JobletClient(host="127.0.0.1", port=cluster.port) as client:
        assert client.health_check()
        with pytest.raises(joblet.JobNotFoundError):
            client.jobs.get_job_status(unique_id("never"))
    pem = tmp_path / "client.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    with pytest.raises(AuthenticationError, match="CURVE credential"):
        JobletClient(host="127.0.0.1", port=cluster.port, ca_cert_path=str(pem), client_cert_path=str(pem),
                     client_key_path=str(pem))
    with JobletClient(host="127.0.0.1", port=free_port, options={"timeout": 0.5}) as dead:
        for expected in (ConnectionError, TimeoutError, JobletException):
            with pytest.raises(expected):
                dead.jobs.get_job_status("anything")
