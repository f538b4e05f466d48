# The golden pipeline cases of schemas/golden/pipelines/ (shared with the C++ parser): each NAME.yaml (in
# that folder or a subfolder) is parsed offline and must give NAME.expected.json, either the submission
# (jobs as JobSpec dicts, files by name and sha256, and the project to deploy: its zip's name and the
# sorted entries zipping it gives) or an error whose message contains the expected text and names the line.
import hashlib
import json
import zipfile

import pytest

from store_process import REPO_ROOT
from titan_sdk import PipelineError
from titan_sdk.pipeline import parse
from titan_sdk.project_zip import zip_folder

GOLDEN = REPO_ROOT / "schemas" / "golden" / "pipelines"
CASES = sorted(str(p.relative_to(GOLDEN))[:-len(".expected.json")] for p in GOLDEN.rglob("*.expected.json"))


def test_the_golden_cases_are_there():
    assert {"titan_basic", "joblet_basic", "titan_unknown_key", "daily_etl", "original_types",
            "original_project/original_project", "original_project/original_no_project"} <= set(CASES)


def project_of(got, tmp_path):
    """The parsed project as expected.json states it: {"name", "entries"} (None when there is none)."""
    if got.project is None:
        return None
    zip_path = tmp_path / got.project.name
    zip_folder(got.project.folder, str(zip_path))
    with zipfile.ZipFile(zip_path) as zf:
        return {"name": got.project.name, "entries": sorted(zf.namelist())}


@pytest.mark.parametrize("name", CASES)
def test_golden_pipeline(name, tmp_path):
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
    assert project_of(got, tmp_path) == expected.get("project")
    if got.project is not None:
        assert got.project.folder == str(path.parent)
