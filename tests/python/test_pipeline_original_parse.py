# The original SDK's spelling of the Titan format (docs/pipelines.md), no cluster needed: `file` jobs run
# from the project (the YAML file's folder, zipped), `project: false`, `depends_on`, the type aliases,
# services that need a port, fractional seconds, `version`. cli/pipeline_original_test.cc has the same
# cases with the same messages.
import os

import pytest

from titan_sdk import PipelineError
from titan_sdk.pipeline import parse, project_zip_name

FIX_IT = ("; with 'project: true' (the default) the YAML file's folder is zipped as the project, so give a path "
          "inside it, or send the file with 'script' instead")
TYPE_ERROR = ("'type' must be RUN_PAYLOAD, TASK or run (runs once) or SERVICE (kept running), in any case, in job "
              "'A'; got '%s'")


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "a.py").write_text("print(1)\n")
    (tmp_path / "a.py").write_text("print(1)\n")
    (tmp_path / "b.sh").write_text("echo b\n")
    return tmp_path


def outcome(folder, text):
    """Parses `text` written as p.yaml: the Submission, or the error as "<line>: <what>"."""
    path = folder / "p.yaml"
    path.write_text(text)
    try:
        return parse(path)
    except PipelineError as e:
        assert str(e).startswith("%s:%d: " % (path, e.line))
        return "%d: %s" % (e.line, e.what)


def test_file_jobs_run_from_the_project_zipped_under_the_pipelines_name(folder):
    sub = outcome(folder, "name: My ETL\njobs:\n  - {id: A, file: ./steps/x/../a.py, args: x}\n"
                          "  - {id: B, script: b.sh, depends_on: [A]}\n")
    assert sub.jobs == [{"id": "A", "file": "My_ETL.zip/steps/a.py", "archive": True, "args": "x"},
                        {"id": "B", "file": "b.sh", "parents": ["A"]}]
    assert (sub.project.name, sub.project.folder) == ("My_ETL.zip", str(folder))
    assert list(sub.files) == ["b.sh"]

    sub = outcome(folder, "name: My ETL\nproject: false\njobs:\n  - {id: A, file: steps/a.py}\n")
    assert (sub.jobs, sub.project, sub.files) == ([{"id": "A", "file": "a.py"}], None, {"a.py": b"print(1)\n"})
    assert outcome(folder, "name: d\nproject: false\njobs:\n  - {id: A, file: %s}\n" % (folder / "b.sh")).files
    assert outcome(folder, "name: d\nproject: true\njobs:\n  - {id: A, script: b.sh}\n").project is None


@pytest.mark.parametrize("file, error", [
    ("/etc/passwd", "4: 'file' '/etc/passwd' is an absolute path" + FIX_IT),
    ("steps/../../a.py", "4: 'file' 'steps/../../a.py' leads outside the YAML file's folder" + FIX_IT),
    ("steps/..", "4: 'file' 'steps/..' names the YAML file's folder itself; name the file to run"),
    ("steps/b.py", "4: file 'steps/b.py' not found (looked for {folder}/steps/b.py); paths are relative to the "
                   "YAML file's folder"),
    ("steps", "4: file 'steps' is a directory; name the file to run"),
    ("steps/a.py/x", "4: cannot read file 'steps/a.py/x': Not a directory"),
])
def test_a_project_file_must_be_a_file_inside_the_folder(folder, file, error):
    assert outcome(folder, "name: d\njobs:\n  - id: A\n    file: %s\n" % file) == error.format(folder=folder)


def test_types_are_case_insensitive_and_a_file_service_needs_a_port(folder):
    sub = outcome(folder, "name: d\njobs:\n  - {id: A, script: a.py, type: sErViCe}\n"
                          "  - {id: B, file: a.py, type: task}\n  - {id: C, file: a.py, type: Service, port: 80}\n")
    assert sub.jobs == [{"id": "A", "file": "a.py", "job_type": "SERVICE"},
                        {"id": "B", "file": "d.zip/a.py", "archive": True},
                        {"id": "C", "file": "d.zip/a.py", "archive": True, "job_type": "SERVICE", "port": 80}]
    needs_port = "job 'S' is a service run from 'file', so it needs 'port' (the port it listens on)"
    assert outcome(folder, "name: d\njobs:\n  - id: S\n    file: a.py\n    type: service\n") == "3: " + needs_port
    assert outcome(folder, "name: d\nproject: false\njobs:\n  - {id: S, file: a.py, type: SERVICE}\n") == \
        "4: " + needs_port
    # Only ASCII letters fold: the long s (U+017F) does not become an S.
    assert outcome(folder, "name: d\njobs:\n  - {id: A, script: a.py, type: \u017fervice}\n") == \
        "3: " + TYPE_ERROR % "\u017fervice"
    assert outcome(folder, "name: d\njobs:\n  - {id: A, script: a.py, type: 1}\n") == \
        "3: 'type' must be a string in job 'A'"


@pytest.mark.parametrize("value, result", [
    ("0.0005", 1), ("1.0004", 1000), ("1:30.5", 90500), ("9223372036854775", 9223372036854775000),
    ("9223372036854776", "3: 'delay' is too many seconds in job 'A'"),
    ("9223372036854775.9", "3: 'delay' is too many seconds in job 'A'"),
    (".inf", "3: 'delay' is too many seconds in job 'A'"),
    ("-0.5", "3: 'delay' must be >= 0 seconds in job 'A'"),
    (".nan", "3: 'delay' must be >= 0 seconds in job 'A'"),
    ('"1.5"', "3: 'delay' must be a number of seconds in job 'A'"),
    ("9223372036854775808", "3: 'delay' is out of range in job 'A' (at most 9223372036854775807)"),
])
def test_seconds_may_be_fractional_and_round_half_up_to_the_millisecond(folder, value, result):
    got = outcome(folder, "name: d\njobs:\n  - {id: A, script: a.py, delay: %s}\n" % value)
    assert (got if isinstance(got, str) else got.jobs[0]["delay_ms"]) == result


def test_joblet_timeouts_may_be_fractional_too(folder):
    assert outcome(folder, "name: d\njobs:\n  - {name: j, command: ls, timeout: 2.25}\n").jobs[0]["timeout_ms"] == 2250


def test_version_is_any_string_or_number_and_project_is_a_flag(folder):
    for version in ("1", "1.0", '"1.0"', "v2"):
        assert not isinstance(outcome(folder, "version: %s\nname: d\njobs:\n  - {id: A, script: a.py}\n" % version),
                              str)
    assert outcome(folder, "version: [1]\nname: d\njobs:\n  - {id: A, script: a.py}\n") == \
        "1: 'version' must be a string or a number in the pipeline (it is accepted and ignored)"
    assert outcome(folder, 'name: d\nproject: "no"\njobs:\n  - {id: A, script: a.py}\n') == \
        "2: 'project' must be true or false in the pipeline"
    assert outcome(folder, "name: d\nproject: true\njobs:\n  - {name: j, command: ls}\n") == \
        "2: unknown key 'project' in the pipeline (known: version, name, jobs)"


def test_a_pipeline_name_too_long_for_its_project_zip_is_refused_only_when_a_job_uses_the_project(folder):
    longest = "x" * 251
    assert outcome(folder, "name: %s\njobs:\n  - {id: A, file: a.py}\n" % longest).project.name == longest + ".zip"
    assert outcome(folder, "name: %sy\njobs:\n  - {id: A, file: a.py}\n" % longest) == \
        "1: the pipeline's name is too long to name its project zip ('%s...', more than 255 bytes); shorten " \
        "'name'" % ("x" * 40)
    assert not isinstance(outcome(folder, "name: %sy\njobs:\n  - {id: A, script: a.py}\n" % longest), str)


@pytest.mark.parametrize("name, zip_name", [
    ("Nightly ETL/v2", "Nightly_ETL_v2.zip"), ("a.b-c_D9", "a.b-c_D9.zip"), ("caf\u00e9 au lait", "caf__au_lait.zip"),
    ("\u65e5\u672c", "__.zip"), ("\U0001F680", "_.zip"), (".", "..zip"),
])
def test_project_zip_name_replaces_each_character_outside_the_safe_set_by_one_underscore(name, zip_name):
    assert project_zip_name(name) == zip_name


def test_submit_fields_never_carry_the_project(folder):
    sub = outcome(folder, "name: d\njobs:\n  - {id: A, file: a.py}\n")
    assert set(sub.submit_fields()) == {"jobs", "files", "dag", "agent_run_id"}
    assert os.path.isdir(sub.project.folder)
