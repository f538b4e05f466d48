# Human-in-the-loop gates against a real cluster: the broker puts "hitl-gate-<id>" after a job with a
# hitl_message; approve() lets the children run, reject() skips them, and an undecided gate fails at its
# deadline. Waits use wait()/wait_dag() (the broker's JOB_WAIT), never sleeps.
import getpass

import pytest

from cluster import unique_id, write_script
from titan_sdk import InvalidError, TitanJob

DEADLINE_S = 60


@pytest.fixture
def hello(tmp_path):
    return write_script(tmp_path, "hello.sh", 'echo "ran $TITAN_JOB_ID"\n')


def submit_gated(client, script, max_wait_seconds=172800, grandchild=False):
    """job -> (gate) -> child [-> grandchild]; returns (dag id, job, gate, child, grandchild)."""
    job, child, grand = unique_id("train"), unique_id("publish"), unique_id("notify")
    jobs = [TitanJob(job, script, hitl_message="Publish the model?", max_wait_seconds=max_wait_seconds),
            TitanJob(child, script, parents=[job])]
    if grandchild:
        jobs.append(TitanJob(grand, script, parents=[child]))
    name = unique_id("gated")
    ids = client.submit_dag(name, jobs)
    gate = "hitl-gate-" + job
    assert ids == [j.job_id for j in jobs] + [gate]  # the broker appends the gates it created
    assert client.last_dag == name
    return name, job, gate, child, grand


def test_approved_gate_lets_the_child_run_and_records_who(broker_client, hello):
    dag, job, gate, child, _ = submit_gated(broker_client, hello)
    assert broker_client.wait(job, timeout=DEADLINE_S) == "COMPLETED"
    info = broker_client.get_job(gate)
    assert (info.kind, info.state, info.message, info.parents) == ("GATE", "WAITING_APPROVAL", "Publish the model?",
                                                                   [job])
    assert info.reason == "waiting for approval: Publish the model?" and info.dag == dag
    assert broker_client.get_job(child).state == "BLOCKED" and broker_client.get_job(child).parents == [gate]
    assert broker_client.approve(gate, by="alice") == "COMPLETED"
    assert broker_client.wait(child, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.fetch_logs(child) == "ran %s\n" % child
    info = broker_client.get_job(gate)
    assert (info.state, info.decided_by, info.reason) == ("COMPLETED", "alice", "approved by alice")
    assert broker_client.get_job(job).kind is None  # plain jobs have no kind
    result = broker_client.wait_dag(dag, timeout=DEADLINE_S)
    assert (result["state"], result["done"], result["failed"]) == ("COMPLETED", 3, 0)
    assert [j.id for j in result["jobs"]] == [job, child, gate]


def test_approve_defaults_to_the_login_name_and_decides_once(broker_client, hello):
    _, job, gate, child, _ = submit_gated(broker_client, hello)
    broker_client.wait(job, timeout=DEADLINE_S)
    assert broker_client.approve(gate) == "COMPLETED"
    assert broker_client.get_job(gate).decided_by == getpass.getuser()
    with pytest.raises(InvalidError, match="already decided"):
        broker_client.reject(gate)
    with pytest.raises(InvalidError, match="gates are named hitl-gate-<job id>"):
        broker_client.approve(job)
    assert broker_client.wait(child, timeout=DEADLINE_S) == "COMPLETED"


def test_rejected_gate_skips_the_descendants_and_fails_the_dag(broker_client, hello):
    dag, job, gate, child, grand = submit_gated(broker_client, hello, grandchild=True)
    broker_client.wait(job, timeout=DEADLINE_S)
    assert broker_client.reject(gate, reason="numbers look off", by="bob") == "FAILED"
    assert broker_client.wait(grand, timeout=DEADLINE_S) == "SKIPPED"
    info = broker_client.get_job(gate)
    assert (info.state, info.decided_by, info.reason) == ("FAILED", "bob", "rejected by bob: numbers look off")
    assert broker_client.get_job(child).state == "SKIPPED"
    assert broker_client.get_job(child).reason == "parent %s ended FAILED" % gate
    assert broker_client.get_job(grand).reason == "parent %s ended SKIPPED" % child
    assert broker_client.fetch_logs(child) == ""  # never ran
    result = broker_client.wait_dag(dag, timeout=DEADLINE_S)
    assert (result["state"], result["jobs"][0].state, result["failed"]) == ("FAILED", "COMPLETED", 3)


def test_undecided_gate_fails_after_max_wait_seconds(broker_client, hello):
    dag, job, gate, child, _ = submit_gated(broker_client, hello, max_wait_seconds=1)
    assert broker_client.wait(gate, timeout=DEADLINE_S) == "FAILED"
    info = broker_client.get_job(gate)
    assert "no decision within 1 s" in info.reason and info.decided_by is None
    assert info.finished_ms - info.started_ms >= 1000
    assert broker_client.wait(child, timeout=DEADLINE_S) == "SKIPPED"
    assert broker_client.wait_dag(dag, timeout=DEADLINE_S)["state"] == "FAILED"


def test_a_gate_cannot_be_decided_before_its_job_completed(broker_client, hello):
    job = unique_id("later")
    broker_client.submit_job(TitanJob(job, hello, delay=120000, hitl_message="Go?"))
    gate = "hitl-gate-" + job
    assert broker_client.get_job(gate).state == "BLOCKED"
    with pytest.raises(InvalidError, match="its job has not completed yet"):
        broker_client.approve(gate)
    cancelled = broker_client.cancel_dag(broker_client.last_dag)  # the job was waiting: cancelled at once
    assert {j.id: j.state for j in cancelled["jobs"]} == {job: "CANCELLED", gate: "SKIPPED"}
    assert cancelled["state"] == "CANCELLED"


def test_a_later_submission_waits_on_the_gate_of_an_earlier_one(broker_client, hello):
    _, job, gate, child, _ = submit_gated(broker_client, hello)
    later = unique_id("later-child")
    assert broker_client.submit_dag(unique_id("second"), [TitanJob(later, hello, parents=[job])]) == [later]
    assert broker_client.get_job(later).parents == [gate]
    broker_client.wait(job, timeout=DEADLINE_S)
    broker_client.approve(gate)
    assert broker_client.wait(later, timeout=DEADLINE_S) == "COMPLETED"
    assert broker_client.wait(child, timeout=DEADLINE_S) == "COMPLETED"


def test_cancelling_the_dag_of_a_waiting_gate_cancels_it(broker_client, hello):
    dag, job, gate, child, _ = submit_gated(broker_client, hello)
    broker_client.wait(job, timeout=DEADLINE_S)
    assert broker_client.get_job(gate).state == "WAITING_APPROVAL"
    result = broker_client.cancel_dag(dag)
    assert {j.id: j.state for j in result["jobs"]} == {job: "COMPLETED", gate: "CANCELLED", child: "CANCELLED"}
    assert result["state"] == "CANCELLED"
    with pytest.raises(InvalidError, match="already decided"):
        broker_client.approve(gate)
