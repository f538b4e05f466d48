# Resource requests in the SDK (no cluster needed): TitanJob(cpu=, memory=, gpus=) become JobSpec's
# cpu_milli, memory_mb and gpus, rounded as the CLI rounds them; bad values are refused before sending.
import pytest

from titan_sdk import TitanJob
from titan_sdk.protocol import MsgType, decode, encode
from titan_sdk.requests import cpu_milli
from titan_sdk.submission import plan_submit


def spec_of(job):
    (spec,) = plan_submit([job], None, None).fields["jobs"]
    return spec


def test_requests_map_to_their_job_spec_fields():
    spec = spec_of(TitanJob("train", "train.py", content="print(1)", cpu=1.5, memory=512, gpus=1))
    assert (spec["cpu_milli"], spec["memory_mb"], spec["gpus"]) == (1500, 512, 1)
    frames = encode(MsgType.JOB_SUBMIT, plan_submit([TitanJob("t", "t.py", content="", cpu=2)], None, None).fields)
    assert decode(frames).fields["jobs"][0]["cpu_milli"] == 2000


def test_no_request_sends_nothing():
    spec = spec_of(TitanJob("a", "a.py", content="", cpu=0))
    assert not {"cpu_milli", "memory_mb", "gpus"} & set(spec)


def test_cores_round_to_the_nearest_thousandth_halves_up():
    assert [cpu_milli(c) for c in (0.25, 0.0005, 0.0004, 1.9999, 3)] == [250, 1, 0, 2000, 3000]


@pytest.mark.parametrize("kwargs, word", [({"cpu": -1}, "cpu"), ({"memory": 1.5}, "memory"),
                                          ({"gpus": True}, "gpus"), ({"cpu": "2"}, "cpu")])
def test_bad_requests_are_refused_before_sending(kwargs, word):
    with pytest.raises(ValueError, match="job 'a': %s must be" % word):
        spec_of(TitanJob("a", "a.py", content="", **kwargs))
