# Services through the SDK and the CLI on a real cluster: a service restarted where it runs answers again
# from a new process, with the restart counted; a restart that cannot be says why. Waits use the broker's
# JOB_WAIT (a service: until it is ready) with a deadline; no test sleeps to wait for a state.
import pytest

from cli import titan, titan_ok
from cluster import unique_id, write_script
from http_service import answering_pid, deploy_http_service
from titan_sdk import InvalidError, JobNotFoundError, TitanJob

DEADLINE_S = 60


@pytest.fixture
def service(broker_client, tmp_path):
    """(id, port) of an HTTP service that is ready (http_service.py); stopped at the end."""
    service_id, port = deploy_http_service(broker_client, tmp_path)
    yield service_id, port
    broker_client.stop_service(service_id)
    assert broker_client.wait(service_id, timeout=DEADLINE_S) == "CANCELLED"


def test_a_restarted_service_answers_again_from_a_new_process(broker_client, service):
    service_id, port = service
    before = answering_pid(port)
    asked = broker_client.restart_service(service_id)
    assert (asked.state, asked.ready, asked.restarts) == ("RUNNING", False, 0)
    assert broker_client.wait(service_id, timeout=DEADLINE_S) == "RUNNING"  # ready again
    after = broker_client.get_job(service_id)
    assert (after.ready, after.restarts, after.attempt, after.worker) == (True, 1, 1, asked.worker)
    assert answering_pid(port) != before
    assert after.up_since_ms >= asked.up_since_ms


def test_the_cli_restarts_a_service_and_waits_until_it_is_ready(cluster, broker_client, service):
    service_id, port = service
    before = answering_pid(port)
    out = titan_ok(cluster.port, ["restart", service_id, "--wait"])
    assert out.startswith(service_id + " restarting on ") and "\n%s ready on " % service_id in out, out
    assert "(restarts: 1)" in out, out
    assert answering_pid(port) != before and broker_client.get_job(service_id).restarts == 1


def test_a_restart_that_cannot_be_says_why(cluster, broker_client, tmp_path):
    with pytest.raises(JobNotFoundError, match="no service"):
        broker_client.restart_service(unique_id("ghost"))
    once = broker_client.submit_job(TitanJob(unique_id("once"), write_script(tmp_path, "once.sh", "true\n")))
    assert broker_client.wait(once, timeout=DEADLINE_S) == "COMPLETED"
    with pytest.raises(InvalidError, match="is not a service"):
        broker_client.restart_service(once)
    refused = titan(cluster.port, ["restart", once])
    assert refused.returncode == 3 and "is not a service" in refused.stderr, refused.stderr
