# The SDK's side of job limits, offline: TitanJob's limit parameters in the JobSpec it submits (and the
# errors for wrong ones), and a JobInfo's usage and limits read from the wire.
import pytest

from titan_sdk import TitanJob
from titan_sdk.job import JobInfo
from titan_sdk.submission import job_spec


def test_limits_go_into_the_job_spec():
    job = TitanJob("a", "a.py", content="print(1)", max_memory=64, max_cpu=150, cpu_cores="0-1",
                   max_iobps=1 << 20, max_processes=100)
    spec = job_spec(job)
    assert {k: spec[k] for k in ("max_memory", "max_cpu", "cpu_cores", "max_iobps", "max_processes")} == \
        {"max_memory": 64, "max_cpu": 150, "cpu_cores": "0-1", "max_iobps": 1 << 20, "max_processes": 100}


def test_no_limits_no_fields():
    spec = job_spec(TitanJob("a", "a.py", content="print(1)", max_memory=0))
    assert not {"max_memory", "max_cpu", "cpu_cores", "max_iobps", "max_processes"} & set(spec)


def test_a_wrong_limit_is_refused_before_sending():
    with pytest.raises(ValueError, match=r"max_memory must be >= 0 \(0: no limit\); got -1"):
        job_spec(TitanJob("a", "a.py", content="x", max_memory=-1))
    with pytest.raises(TypeError, match="max_cpu must be an int"):
        job_spec(TitanJob("a", "a.py", content="x", max_cpu=1.5))
    with pytest.raises(TypeError, match="cpu_cores must be a CPU list"):
        job_spec(TitanJob("a", "a.py", content="x", cpu_cores=[0, 1]))


def test_job_info_carries_usage_and_limits():
    info = JobInfo.from_wire({"id": "a", "state": "FAILED", "file": "a.py", "requirement": "GENERAL",
                              "priority": 1, "attempt": 1, "parents": [], "submitted_ms": 1,
                              "reason": "killed: memory limit 64 MB exceeded", "max_memory": 64,
                              "usage": {"peak_memory_bytes": 67108864, "cpu_ms": 30}})
    assert info.max_memory == 64
    assert info.usage.peak_memory_bytes == 67108864
    assert info.usage.cpu_ms == 30
    assert info.usage.io_read_bytes is None
    assert info["usage"].cpu_ms == 30
