# How TitanJobs become a JOB_SUBMIT (no cluster needed): field mapping and units, one FileBlob per
# distinct file, gates (hitl_message), what is named instead of sent (scripts not on this machine, project
# zips of archive jobs, scripts too big for one message), and the local refusals (clashing basenames, bad
# archive paths).
import os
import zipfile

import pytest

from titan_sdk import InvalidError, JobFileNotFoundError, NotFoundError, TitanError, TitanJob, TooLargeError
from titan_sdk.protocol import MsgType, decode, encode
from titan_sdk.submission import MAX_FILES_BYTES, env_list, plan_submit


def build_submit(jobs, dag, agent_run_id):
    """The JOB_SUBMIT fields of a plan that deploys nothing."""
    plan = plan_submit(jobs, dag, agent_run_id)
    assert plan.deploys == []
    return plan.fields


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_bytes(b"print('train')\n")
    return str(path)


def test_every_titan_job_field_maps_to_its_job_spec_field(script):
    job = TitanJob("train_v1", script, "SERVICE", "--epochs 3", ["prep"], 8080, False, 10, 1500, True, "GPU",
                   retries=2, timeout=2.25, env={"MODE": "fast", "N": 4})
    fields = build_submit([job], "nightly", "run-1")
    assert fields["jobs"] == [{
        "id": "train_v1", "file": "train.py", "args": "--epochs 3", "job_type": "SERVICE", "port": 8080,
        "priority": 10, "delay_ms": 1500, "requirement": "GPU", "affinity": True, "parents": ["prep"],
        "retries": 2, "timeout_ms": 2250, "env": ["MODE=fast", "N=4"]}]
    assert fields["files"] == [{"name": "train.py", "content": b"print('train')\n"}]
    assert (fields["dag"], fields["agent_run_id"]) == ("nightly", "run-1")
    frames = encode(MsgType.JOB_SUBMIT, fields)  # the schema accepts it
    assert decode(frames).fields["jobs"][0]["delay_ms"] == 1500


def test_defaults_leave_optional_fields_to_the_broker(script):
    (spec,) = build_submit([TitanJob("a", script)], None, None)["jobs"]
    assert spec == {"id": "a", "file": "train.py", "priority": 1, "requirement": "GENERAL"}


def test_args_as_a_list_are_shell_quoted(script):
    (spec,) = build_submit([TitanJob("a", script, args=["two words", "it's"])], None, None)["jobs"]
    assert spec["args"] == "'two words' 'it'\"'\"'s'"


def test_a_relative_filename_is_read_from_the_current_directory(tmp_path, monkeypatch, script):
    monkeypatch.chdir(tmp_path)
    fields = build_submit([TitanJob("a", "train.py")], None, None)
    assert fields["files"][0]["content"] == b"print('train')\n"


def test_each_distinct_file_is_sent_once(tmp_path, script):
    other = tmp_path / "sub"
    other.mkdir()
    (other / "train.py").write_bytes(b"print('train')\n")  # same name, same bytes: one blob
    (tmp_path / "eval.sh").write_bytes(b"echo eval\n")
    jobs = [TitanJob("a", script), TitanJob("b", script), TitanJob("c", str(other / "train.py")),
            TitanJob("d", str(tmp_path / "eval.sh"))]
    fields = build_submit(jobs, None, None)
    assert [f["name"] for f in fields["files"]] == ["train.py", "eval.sh"]
    assert [j["file"] for j in fields["jobs"]] == ["train.py", "train.py", "train.py", "eval.sh"]


def test_two_different_files_with_one_basename_are_refused(tmp_path, script):
    other = tmp_path / "v2"
    other.mkdir()
    (other / "train.py").write_bytes(b"print('v2')\n")
    with pytest.raises(InvalidError, match="two different files named 'train.py'"):
        build_submit([TitanJob("a", script), TitanJob("b", str(other / "train.py"))], None, None)


def test_a_file_not_on_this_machine_is_named_for_the_broker_to_resolve(tmp_path, script):
    plan = plan_submit([TitanJob("a", "scripts/missing.py"), TitanJob("b", script)], None, None)
    assert [j["file"] for j in plan.fields["jobs"]] == ["missing.py", "train.py"]
    assert [f["name"] for f in plan.fields["files"]] == ["train.py"]  # only the local one travels inline
    assert plan.deploys == [] and plan.remote == {"a": ("scripts/missing.py", "missing.py", False)}


def test_the_brokers_not_found_becomes_a_file_not_found_error_naming_the_path():
    plan = plan_submit([TitanJob("a", "scripts/missing.py")], None, None)
    e = plan.not_found(NotFoundError("job 'a' runs 'missing.py', which was neither sent with the submission nor "
                                     "deployed (no such artifact)"))
    assert isinstance(e, JobFileNotFoundError) and isinstance(e, FileNotFoundError) and isinstance(e, NotFoundError)
    assert e.filename == "scripts/missing.py" and e.code == "NOT_FOUND"
    assert "scripts/missing.py not found" in str(e) and "deploy_script" in str(e) and "neither sent" in str(e)


def test_files_over_one_message_are_deployed_instead_of_sent(tmp_path, script):
    big = tmp_path / "big.py"
    big.write_bytes(b"#" * (MAX_FILES_BYTES + 1))
    plan = plan_submit([TitanJob("a", str(big)), TitanJob("b", script)], None, None)
    assert plan.deploys == [(str(big), "big.py")]
    assert [f["name"] for f in plan.fields["files"]] == ["train.py"]
    assert [j["file"] for j in plan.fields["jobs"]] == ["big.py", "train.py"]


def make_zip(path, entries):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return str(path)


def test_an_archive_job_deploys_its_local_zip_and_names_the_entry(tmp_path, monkeypatch):
    make_zip(tmp_path / "proj.zip", {"src/main.py": "print(1)\n"})
    monkeypatch.chdir(tmp_path)
    plan = plan_submit([TitanJob("a", "proj.zip/src/main.py", is_archive=True, args="x"),
                        TitanJob("b", str(tmp_path / "proj.zip") + "/src/main.py", is_archive=True)], None, None)
    assert [j["file"] for j in plan.fields["jobs"]] == ["proj.zip/src/main.py"] * 2
    assert [j["archive"] for j in plan.fields["jobs"]] == [True, True]
    assert plan.fields["files"] == []  # never inline
    assert plan.deploys == [(str(tmp_path / "proj.zip"), "proj.zip")]  # once
    encode(MsgType.JOB_SUBMIT, plan.fields)  # the schema accepts it


def test_an_archive_job_without_a_local_zip_is_named_for_the_broker(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plan = plan_submit([TitanJob("a", "deployed.zip/main.py", is_archive=True)], None, None)
    assert plan.fields["jobs"][0]["file"] == "deployed.zip/main.py" and plan.deploys == []
    e = plan.not_found(NotFoundError("job 'a' runs 'deployed.zip', which was neither sent nor deployed"))
    assert isinstance(e, JobFileNotFoundError) and "upload_project_folder" in str(e) and "deployed.zip" in str(e)


@pytest.mark.parametrize("filename, expect", [
    ("proj/src/main.py", "must be '<project>.zip/<entry>'"),
    ("proj.zip", "must be '<project>.zip/<entry>'"),
    ("proj.zip/../evil.py", "'..'"),
    ("proj.zip/src/missing.py", "has no file 'src/missing.py'"),
])
def test_bad_archive_filenames_are_refused_locally(tmp_path, monkeypatch, filename, expect):
    make_zip(tmp_path / "proj.zip", {"src/main.py": "print(1)\n"})
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidError) as e:
        plan_submit([TitanJob("a", filename, is_archive=True)], None, None)
    assert expect in str(e.value)


def test_a_folder_is_not_a_script(tmp_path):
    with pytest.raises(TitanError, match="is a directory"):
        plan_submit([TitanJob("a", str(tmp_path))], None, None)


def test_hitl_message_sends_the_gate_question_and_its_deadline(script):
    (default,) = build_submit([TitanJob("a", script, hitl_message="Publish?")], None, None)["jobs"]
    assert (default["hitl_message"], default["max_wait_s"]) == ("Publish?", 172800)
    (short,) = build_submit([TitanJob("a", script, hitl_message="Ok?", max_wait_seconds=60)], None, None)["jobs"]
    assert (short["hitl_message"], short["max_wait_s"]) == ("Ok?", 60)
    (plain,) = build_submit([TitanJob("a", script, max_wait_seconds=60)], None, None)["jobs"]
    assert "hitl_message" not in plain and "max_wait_s" not in plain  # no gate: its deadline is not sent


@pytest.mark.parametrize("kwargs, error", [
    ({"hitl_message": " "}, ValueError),
    ({"hitl_message": "ok?", "max_wait_seconds": 0}, ValueError),
    ({"hitl_message": "ok?", "max_wait_seconds": 1.5}, TypeError),
    ({"hitl_message": 42}, TypeError),
])
def test_bad_gates_are_refused_locally(script, kwargs, error):
    with pytest.raises(error):
        build_submit([TitanJob("a", script, **kwargs)], None, None)


@pytest.mark.parametrize("kwargs, error", [
    ({"priority": "5"}, TypeError),
    ({"delay": -1}, ValueError),
    ({"timeout": "soon"}, TypeError),
    ({"env": {"": "x"}}, ValueError),
    ({"env": ["NOVALUE"]}, ValueError),
])
def test_bad_field_values_are_refused_locally(script, kwargs, error):
    with pytest.raises(error):
        build_submit([TitanJob("a", script, **kwargs)], None, None)


def test_env_accepts_a_dict_or_name_value_strings():
    assert env_list({"A": 1, "B": "x=y"}) == ["A=1", "B=x=y"]
    assert env_list(["A=1", "B="]) == ["A=1", "B="]


def test_an_empty_submission_is_refused():
    with pytest.raises(InvalidError):
        build_submit([], None, None)
    with pytest.raises(TypeError):
        build_submit([os.getcwd()], None, None)


def test_content_is_sent_under_the_filenames_basename_without_reading_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing named gen.py here or anywhere
    jobs = [TitanJob("a", "gen.py", content="print('generated')\n"),
            TitanJob("b", "gen.py", content=b"print('generated')\n", parents=["a"]),  # the same bytes: one blob
            TitanJob("c", "tools/run.sh", content=b"echo run\n")]
    plan = plan_submit(jobs, None, None)
    assert (plan.deploys, plan.remote) == ([], {})
    assert plan.fields["files"] == [{"name": "gen.py", "content": b"print('generated')\n"},
                                    {"name": "run.sh", "content": b"echo run\n"}]
    assert [j["file"] for j in plan.fields["jobs"]] == ["gen.py", "gen.py", "run.sh"]
    assert "<19 bytes>" in repr(jobs[0]) and "generated" not in repr(jobs[0])


def test_different_content_under_one_name_is_refused(script):
    with pytest.raises(InvalidError, match="two different files named 'train.py' .*the content given for job 'b'"):
        build_submit([TitanJob("a", script), TitanJob("b", "train.py", content="print('other')\n")], None, None)


def test_bad_content_is_refused_locally():
    with pytest.raises(TypeError, match="content is the script as str or bytes"):
        TitanJob("a", "a.py", content=42)
    with pytest.raises(TypeError, match="an archive job takes none"):
        TitanJob("a", "p.zip/a.py", is_archive=True, content="x")


def test_inline_content_too_big_for_one_message_says_to_deploy_it():
    with pytest.raises(TooLargeError, match="big.py .*deploy it first"):
        plan_submit([TitanJob("a", "big.py", content=b"#" * (MAX_FILES_BYTES + 1))], None, None)
