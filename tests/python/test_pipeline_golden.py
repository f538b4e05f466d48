# The golden pipeline cases of schemas/golden/pipelines/ (shared with the C++ parser): each NAME.yaml is
# parsed offline and must give NAME.expected.json, either the submission (jobs as JobSpec dicts, files
# by name and sha256) or an error whose message contains the expected text and names the line.
import hashlib
import json

import pytest

from store_process import REPO_ROOT
from titan_sdk import PipelineError
from titan_sdk.pipeline import parse

GOLDEN = REPO_ROOT / "schemas" / "golden" / "pipelines"
CASES = sorted(p.name[:-len(".yaml")] for p in GOLDEN.glob("*.yaml"))


def test_the_golden_cases_are_there():
    assert {"titan_basic", "joblet_basic", "titan_unknown_key"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_golden_pipeline(name):
    path = GOLDEN / (name + ".yaml")
    expected = json.loads((GOLDEN / (name + ".expected.json")).read_text())
    if "error" in expected:
        with pytest.raises(PipelineError) as e:
            parse(path)
        message = str(e.value)
        assert expected["error"] in message
        assert message.startswith("%s:%d: " % (path, expected["line"])), message
        assert e.value.line == expected["line"]
        return
    got = parse(path)
    assert (got.dag, got.agent_run_id) == (expected["dag"], expected["agent_run_id"])
    assert got.jobs == expected["jobs"]
    assert [{"name": n, "sha256": hashlib.sha256(c).hexdigest()} for n, c in got.files.items()] == expected["files"]
