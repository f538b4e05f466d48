# schemas/gen_protocol.py: the committed outputs (the SDK's schema.py and messages.py, the message reference
# in docs/protocol.md) are what the schema gives, a stale one is reported with a diff and the fix, and the
# generated dataclasses carry every field of the schema.
import dataclasses
import shutil
import subprocess
import sys

import pytest
import yaml

from store_process import REPO_ROOT
from titan_sdk import JobInfo, messages, protocol
from titan_sdk.protocol import MsgType

GENERATOR = REPO_ROOT / "schemas" / "gen_protocol.py"


def run_generator(*args):
    return subprocess.run([sys.executable, str(GENERATOR), *args], capture_output=True, text=True, timeout=60)


def test_committed_outputs_are_current():
    r = run_generator("--check")
    assert r.returncode == 0, "generated files are stale:\n" + r.stdout + r.stderr


@pytest.fixture
def copy_of_repo(tmp_path):
    """The files the generator reads and writes, copied under tmp_path."""
    for rel in ("schemas/protocol.yaml", "docs/protocol.md", "sdk/python/titan_sdk/schema.py",
                "sdk/python/titan_sdk/messages.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / rel, tmp_path / rel)
    return tmp_path


def test_a_schema_change_makes_the_committed_files_stale(copy_of_repo):
    schema = copy_of_repo / "schemas" / "protocol.yaml"
    schema.write_text(schema.read_text().replace("      client: {type: str, optional: true}   # a name for logs",
                                                 "      client: {type: str, optional: true}   # who is asking"))
    r = run_generator("--root", str(copy_of_repo), "--check")
    assert r.returncode == 1
    assert "docs/protocol.md is stale: run schemas/gen_protocol.py" in r.stdout
    assert "+| `client` | `str` | no | who is asking |" in r.stdout
    assert run_generator("--root", str(copy_of_repo)).returncode == 0  # regenerating fixes it
    assert run_generator("--root", str(copy_of_repo), "--check").returncode == 0


def test_a_hand_edit_of_generated_code_is_caught(copy_of_repo):
    schema_py = copy_of_repo / "sdk" / "python" / "titan_sdk" / "schema.py"
    schema_py.write_text(schema_py.read_text().replace("MAX_FRAMES = 16", "MAX_FRAMES = 17"))
    r = run_generator("--root", str(copy_of_repo), "--check")
    assert r.returncode == 1 and "schema.py is stale" in r.stdout


def test_a_bad_schema_is_refused_with_a_reason(copy_of_repo):
    schema = copy_of_repo / "schemas" / "protocol.yaml"
    schema.write_text(schema.read_text().replace("    permission: read\n", "    permission: everyone\n", 1))
    r = run_generator("--root", str(copy_of_repo), "--check")
    assert r.returncode == 2
    assert "permission must be one of none, read, submit, operate, admin, worker" in r.stderr


def test_every_struct_and_message_has_a_dataclass_with_its_fields():
    for name, specs in protocol.STRUCTS.items():
        cls = messages.STRUCT_CLASSES[name]
        assert {f.name for f in dataclasses.fields(cls)} == {f.name for f in specs}, name
    for t in MsgType:
        cls = messages.MESSAGE_CLASSES[t]
        blobs = {"blobs"} if protocol.MESSAGE_SPECS[t].blobs else set()
        assert cls.TYPE == t
        assert {f.name for f in dataclasses.fields(cls)} == {f.name for f in protocol.MESSAGES[t]} | blobs, t.name


def test_public_job_info_carries_every_schema_field():
    """Regression: JobInfo.from_wire used to drop the fields its dataclass lacked (job_type, port, ...)."""
    schema_fields = [f.name for f in protocol.STRUCTS["JobInfo"]]
    assert sorted(f.name for f in dataclasses.fields(JobInfo)) == sorted(schema_fields)
    wire = {"id": "api", "state": "RUNNING", "file": "api.py", "requirement": "GENERAL", "priority": 1,
            "attempt": 1, "parents": [], "submitted_ms": 5, "job_type": "SERVICE", "port": 8080, "restarts": 2,
            "ready": True, "up_since_ms": 9}
    info = JobInfo.from_wire(wire)
    assert (info.port, info.restarts, info.ready, info.run, info["job_type"]) == (8080, 2, True, 1, "SERVICE")
    assert not info.is_final and info.to_dict()["up_since_ms"] == 9
    with pytest.raises(ValueError, match="JobInfo has no field"):
        JobInfo.from_wire(dict(wire, colour="red"))


def test_dataclasses_round_trip_through_the_codec():
    submit = messages.JobSubmitMsg(jobs=[messages.JobSpec(id="a", file="a.sh", parents=["p"])],
                                   files=[messages.FileBlob(name="a.sh", content=b"echo\n")], dag="nightly")
    frames = submit.encode(rid=3)
    d = protocol.decode(frames)
    assert d.ok and d.rid == 3
    assert messages.JobSubmitMsg.from_decoded(d) == submit
    data = messages.JobLogDataMsg(id="a", offset=0, next_offset=3, complete=True, blobs=[b"hi\n"])
    assert messages.JobLogDataMsg.from_decoded(protocol.decode(data.encode())) == data
    with pytest.raises(ValueError, match="expected JOB_SUBMIT, got JOB_LOG_DATA"):
        messages.JobSubmitMsg.from_decoded(protocol.decode(data.encode()))


def test_permissions_and_writes_match_the_schema():
    with open(REPO_ROOT / "schemas" / "protocol.yaml", encoding="utf-8") as f:
        schema = yaml.safe_load(f)
    for name, m in schema["messages"].items():
        spec = protocol.MESSAGE_SPECS[MsgType[name]]
        assert (spec.permission, spec.writes, spec.direction) == (m["permission"], m["writes"], m["direction"])
        assert spec.permission in protocol.PERMISSIONS
    assert protocol.MESSAGE_SPECS[MsgType.JOB_SUBMIT].permission == "submit"
    assert protocol.MESSAGE_SPECS[MsgType.DAG_CANCEL].permission == "operate"
