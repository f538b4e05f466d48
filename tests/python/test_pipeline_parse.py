# The pipeline parser beyond the golden cases (no cluster needed): format detection, Joblet generated
# scripts and shell quoting, file handling, and errors that name the line.
import textwrap

import pytest

from titan_sdk import PipelineError
from titan_sdk.pipeline import parse, parse_text, shell_quote
from titan_sdk.protocol import MsgType, decode, encode


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "a.py").write_text("print('a')\n")
    (tmp_path / "scripts" / "b.sh").write_text("echo b\n")
    return tmp_path


def write(folder, text, name="pipeline.yaml"):
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def error_of(path):
    with pytest.raises(PipelineError) as e:
        parse(path)
    return e.value.line, str(e.value)


def test_titan_service_job_and_agent_run(folder):
    path = write(folder, """
        name: web
        agent_run_id: run-7
        jobs:
          - id: api
            type: SERVICE
            script: scripts/a.py
            port: 8080
          - id: probe
            script: %s
            dependencies: []
    """ % (folder / "scripts" / "b.sh"))  # an absolute path
    sub = parse(path)
    assert (sub.dag, sub.agent_run_id) == ("web", "run-7")
    assert sub.jobs == [{"id": "api", "file": "a.py", "job_type": "SERVICE", "port": 8080},
                        {"id": "probe", "file": "b.sh", "parents": []}]
    fields = sub.submit_fields()
    assert decode(encode(MsgType.JOB_SUBMIT, fields)).fields["files"][0] == {"name": "a.py", "content": b"print('a')\n"}


def test_joblet_commands_become_generated_scripts_quoted_word_by_word(folder):
    path = write(folder, """
        name: jl
        jobs:
          - name: greet
            command: echo
            args: ["hello world", "it's", "a=b,c:d@e%f+g", ""]
          - name: not-a-file
            command: python3
            args: [missing.py, -v]
          - name: run-a
            command: bash
            args: [scripts/a.py]
            depends_on: [greet]
    """)
    sub = parse(path)
    assert [j["file"] for j in sub.jobs] == ["greet.sh", "not-a-file.sh", "a.py"]
    assert sub.files["greet.sh"] == b"#!/bin/sh\nexec echo 'hello world' 'it'\"'\"'s' a=b,c:d@e%f+g ''\n"
    assert sub.files["not-a-file.sh"] == b"#!/bin/sh\nexec python3 missing.py -v\n"
    assert sub.jobs[2] == {"id": "run-a", "file": "a.py", "parents": ["greet"]}


@pytest.mark.parametrize("word, quoted", [
    ("plain-word_1.txt", "plain-word_1.txt"), ("a b", "'a b'"), ("$HOME", "'$HOME'"), ("", "''"),
    ("it's", "'it'\"'\"'s'"), ("x;rm", "'x;rm'"),
])
def test_shell_quote(word, quoted):
    assert shell_quote(word) == quoted


def test_one_file_used_by_two_jobs_is_sent_once(folder):
    path = write(folder, """
        name: twice
        jobs:
          - {id: one, script: scripts/a.py}
          - {id: two, script: ./scripts/../scripts/a.py}
    """)
    assert list(parse(path).files) == ["a.py"]


@pytest.mark.parametrize("text, line, message", [
    ("name: x\njobs:\n  - id: a\n    script: scripts/a.py\n  - name: b\n    command: echo\n", 5,
     "jobs mix 'id' (Titan format) and 'name' (Joblet format)"),
    ("name: x\njobs:\n  - id: a\n    priority: true\n    script: scripts/a.py\n", 4, "'priority' must be an integer"),
    ("name: x\njobs:\n  - id: a\n\n    args: [1, 2]\n    script: scripts/a.py\n", 5, "'args' must be a string"),
    ("name: x\njobs:\n  - id: a\n    script: scripts/a.py\n    env: {N: 4}\n", 5, "quote the value of N"),
    ("name: x\njobs:\n  - id: a\n    script: scripts/a.py\n    type: BATCH\n", 5,
     "'type' must be RUN_PAYLOAD, TASK or run (runs once) or SERVICE (kept running), in any case, in job 'a'; "
     "got 'BATCH'"),
    ("name: x\njobs:\n  - id: a\n    script: scripts/a.py\n    delay: -1\n", 5, "'delay' must be >= 0"),
    ("name: x\njobs:\n  - id: a\n    script: scripts/a.py\n    id: b\n", 5, "duplicate key 'id' (first on line 3)"),
    ("name: x\njobs:\n  - id: a\n    script: scripts\n", 4, "is a directory"),
    ("name: x\njobs:\n  - id: a\n  - id: b\n    script: scripts/a.py\n", 3, "job 'a' needs 'script' or 'file'"),
    ("jobs:\n  - id: a\n    script: scripts/a.py\n", 1, "the pipeline needs 'name'"),
    ("name: x\nversion: {a: 1}\njobs:\n  - id: a\n    script: scripts/a.py\n", 2,
     "'version' must be a string or a number in the pipeline"),
    ("name: x\njobs:\n  - id: a\n    priority: 9223372036854775808\n    script: scripts/a.py\n", 4,
     "'priority' is out of range in job 'a' (at most 9223372036854775807)"),
    ("name: x\njobs: []\n", 2, "'jobs' must be a list of at least one job"),
    ("name: x\njobs:\n  - just-a-string\n", 3, "job #1 must be a mapping"),
    ("name: x\njobs:\n  - id: a\n    script: [unclosed\n", 5, "invalid YAML"),
    ("name: x\njobs:\n  - name: j/k\n    command: echo\n", 3, "cannot name its generated script"),
    ("name: x\njobs:\n  - name: j\n    command: echo\n    args: [a, 2]\n", 5, "quote 2"),
    ("", 1, "the file is empty"),
])
def test_errors_name_the_line(folder, text, line, message):
    path = write(folder, text)
    got_line, got = error_of(path)
    assert message in got and got.startswith("%s:%d: " % (path, line)), got
    assert got_line == line


def test_two_different_files_with_one_base_name_are_refused(folder):
    (folder / "other").mkdir()
    (folder / "other" / "a.py").write_text("print('other a')\n")
    path = write(folder, "name: x\njobs:\n  - {id: a, script: scripts/a.py}\n  - {id: b, script: other/a.py}\n")
    line, message = error_of(path)
    assert line == 4 and "two different files are named 'a.py'" in message


def test_a_generated_script_may_not_clash_with_a_real_file(folder):
    (folder / "scripts" / "greet.sh").write_text("echo real\n")
    path = write(folder, """
        name: x
        jobs:
          - {name: real, command: sh, args: [scripts/greet.sh]}
          - {name: greet, command: echo, args: [hi]}
    """)
    line, message = error_of(path)
    assert line == 4 and "generated for job 'greet'" in message


def test_an_unreadable_pipeline_names_the_file(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(PipelineError, match="^%s: cannot read the pipeline" % path):
        parse(path)


def test_pipeline_text_reads_its_scripts_from_the_folder_given(folder):
    sub = parse_text("name: t\njobs:\n  - id: a\n    script: scripts/a.py\n", folder)
    assert (sub.dag, sub.jobs, sub.files) == ("t", [{"id": "a", "file": "a.py"}], {"a.py": b"print('a')\n"})
    with pytest.raises(PipelineError, match=r"^\(pipeline text\):4: script 'missing.py' not found"):
        parse_text("name: t\njobs:\n  - id: a\n    script: missing.py\n", folder)
