# TitanClient construction and argument checks that need no server: both constructor styles, the
# TITAN_HOST / TITAN_PORT / TITAN_TIMEOUT environment, closing, and client-side type errors.
import pytest

from titan_sdk import TitanClient, TitanError, TitanJob


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("TITAN_HOST", "TITAN_PORT", "TITAN_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)


def test_defaults():
    c = TitanClient()
    assert (c.host, c.port, c.timeout, c.endpoint) == ("127.0.0.1", 9090, 10.0, "tcp://127.0.0.1:9090")


def test_explicit_host_and_port():
    c = TitanClient(host="localhost", port=9090)
    assert (c.host, c.port, c.endpoint) == ("localhost", 9090, "tcp://localhost:9090")


def test_environment(monkeypatch):
    monkeypatch.setenv("TITAN_HOST", "10.1.2.3")
    monkeypatch.setenv("TITAN_PORT", "7000")
    monkeypatch.setenv("TITAN_TIMEOUT", "2.5")
    c = TitanClient()
    assert (c.host, c.port, c.timeout) == ("10.1.2.3", 7000, 2.5)


def test_arguments_win_over_environment(monkeypatch):
    monkeypatch.setenv("TITAN_HOST", "10.1.2.3")
    monkeypatch.setenv("TITAN_PORT", "7000")
    monkeypatch.setenv("TITAN_TIMEOUT", "2.5")
    c = TitanClient(host="h", port=1, timeout=3)
    assert (c.host, c.port, c.timeout) == ("h", 1, 3.0)


def test_ipv6_host_is_bracketed():
    assert TitanClient(host="::1", port=9090).endpoint == "tcp://[::1]:9090"


def test_bad_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("TITAN_PORT", "ninety")
    with pytest.raises(ValueError, match="TITAN_PORT='ninety'"):
        TitanClient()


def test_timeout_must_be_positive():
    with pytest.raises(ValueError, match="timeout"):
        TitanClient(timeout=0)


def test_context_manager_closes_and_closed_client_refuses(free_port):
    with TitanClient(port=free_port) as c:
        pass
    with pytest.raises(TitanError, match="closed"):
        c.store_get("k")
    c.close()  # idempotent


@pytest.mark.parametrize("call", [
    lambda c: c.store_put("k", {"a": 1}),
    lambda c: c.store_put("k", None),
    lambda c: c.store_put(["k"], "v"),
    lambda c: c.store_sadd("k", object()),
    lambda c: c.store_cas("k", {"x"}, "v"),
    lambda c: c.store_incr("k", 1.5),
    lambda c: c.store_keys("p", limit="10"),
])
def test_unsupported_types_raise_type_error_before_any_network(call, free_port):
    c = TitanClient(port=free_port, timeout=30)  # a network call would hang for 30 s, not raise at once
    with pytest.raises(TypeError, match="must be"):
        call(c)


def test_job_has_every_seed_parameter_with_its_default():
    job = TitanJob(job_id="train_v1", filename="scripts/train.py")
    assert vars(job) == {
        "job_id": "train_v1", "filename": "scripts/train.py", "job_type": "RUN_PAYLOAD", "args": None,
        "parents": [], "port": 0, "is_archive": False, "priority": 1, "delay": 0, "affinity": False,
        "requirement": "GENERAL", "hitl_message": None, "max_wait_seconds": 172800,
        "retries": 0, "timeout": None, "env": None, "secret_env": None,  # keyword-only additions beyond the seed
        "on_worker_lost": None, "content": None,
        "max_memory": None, "max_cpu": None, "cpu_cores": None, "max_iobps": None, "max_processes": None,
        "cpu": None, "memory": None, "gpus": None,
        "command": None, "argv": None, "work_dir": None, "runtime": None, "volumes": None, "uploads": None,  # job control
        "cold_start": False,  # a fresh interpreter instead of a warm fork
    }


def test_job_keeps_the_seed_positional_order():
    job = TitanJob("j", "f.py", "SERVICE", "--a", ["p"], 8080, True, 7, 2, True, "GPU", "ok?", 60)
    assert (job.job_type, job.args, job.parents, job.port, job.is_archive, job.priority, job.delay, job.affinity,
            job.requirement, job.hitl_message, job.max_wait_seconds) == \
        ("SERVICE", "--a", ["p"], 8080, True, 7, 2, True, "GPU", "ok?", 60)
    with pytest.raises(TypeError):
        TitanJob("j", "f.py", "RUN_PAYLOAD", None, None, 0, False, 1, 0, False, "GENERAL", None, 1, 3)


def test_job_accepts_id_alias_and_rejects_conflicts():
    assert TitanJob(id="TASK", filename="risky_script.py") == TitanJob("TASK", "risky_script.py")
    assert TitanJob(id="TASK", filename="x").id == "TASK"
    with pytest.raises(TypeError, match="only one"):
        TitanJob(job_id="a", id="b", filename="x")
    with pytest.raises(TypeError, match="job_id"):
        TitanJob(filename="x")
    with pytest.raises(TypeError, match="filename"):
        TitanJob(job_id="a")


def test_job_keeps_its_arguments():
    job = TitanJob("train_model", "ml/train.py", requirement="GPU", parents=["extract_data"], priority=10,
                   is_archive=True, hitl_message="approve?", max_wait_seconds=60)
    assert (job.requirement, job.parents, job.priority, job.is_archive, job.hitl_message, job.max_wait_seconds) == \
        ("GPU", ["extract_data"], 10, True, "approve?", 60)
