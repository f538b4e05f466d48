# Issue 14, defect 7 ("Time fields overflow") on a real cluster: a delay, a timeout or a gate's wait of
# INT64_MAX used to run at once, time out at once, or fail its gate "within -1 s". The broker now refuses
# each with INVALID naming the job, the field, its value and the allowed range, and accepts the largest
# value in range.
import pytest

from cluster import unique_id, write_script
from titan_sdk import InvalidError, TitanJob
from titan_sdk.submission import job_spec

INT64_MAX = 2**63 - 1
TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000


@pytest.fixture
def script(tmp_path):
    return write_script(tmp_path, "quick.sh", "exit 0\n")


@pytest.mark.parametrize("field, options", [
    ("delay_ms", {"delay": INT64_MAX}),
    ("timeout_ms", {"timeout": INT64_MAX // 1000}),  # seconds in the SDK: INT64_MAX ms on the wire
])
def test_time_fields_overflow(broker_client, script, field, options):
    job_id = unique_id("overflow")
    with pytest.raises(InvalidError) as refused:
        broker_client.submit_job(TitanJob(job_id, script, **options))
    message = str(refused.value)
    assert job_id in message and field in message and "out of range" in message, message
    assert broker_client.get_job(job_id) is None  # never accepted


def test_a_gate_wait_of_int64_max_is_refused(broker_client, script):
    job, child = unique_id("gated"), unique_id("after")
    with pytest.raises(InvalidError) as refused:
        broker_client.submit_dag(unique_id("dag"), [
            TitanJob(job, script, hitl_message="go?", max_wait_seconds=INT64_MAX),
            TitanJob(child, script, parents=[job])])
    assert "max_wait" in str(refused.value) and "out of range" in str(refused.value), str(refused.value)


def test_the_longest_delay_in_range_is_accepted_and_waits(broker_client, script):
    job_id = broker_client.submit_job(TitanJob(unique_id("later"), script, delay=TEN_YEARS_MS))
    assert broker_client.get_job(job_id).state not in ("RUNNING", "COMPLETED", "FAILED")
    broker_client.stop_job(job_id)
    assert broker_client.wait(job_id, timeout=30) == "CANCELLED"


def test_a_timeout_beyond_the_wire_is_refused_by_the_sdk_naming_it(script):
    with pytest.raises(ValueError, match="job 'slow': timeout of .* seconds is out of range"):
        job_spec(TitanJob("slow", script, timeout=INT64_MAX))
