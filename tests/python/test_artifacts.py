# File artifacts on a real cluster (store, broker, workers w1 and w2): uploads and downloads that stream
# and verify sha256, deployed scripts and zipped projects that jobs name instead of sending, publish /
# get through TitanStore from inside a job (refusals, broken uploads and zip slips:
# test_artifact_safety.py). Jobs are awaited with JOB_WAIT and a deadline; no test sleeps.
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

import titan_sdk.artifacts
import titan_sdk.project_zip
import titan_sdk.transfer
from artifact_helpers import MIB, names, peak_rss_bytes, run, sha256_of
from cluster import unique_id, write_script
from titan_sdk import (DEPLOY_SUCCESS, UPLOAD_SUCCESS, JobFileNotFoundError, LocalFileNotFoundError,
                       NotFoundError, TitanError, TitanJob)
from titan_sdk.project_zip import zip_folder


# ---- upload and download --------------------------------------------------------------------------------


def test_a_100_mb_file_round_trips_with_its_sha256_in_bounded_memory(broker_client, tmp_path):
    name = unique_id("random") + ".bin"
    src = tmp_path / name
    with open(src, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(MIB))
    peak_before = peak_rss_bytes()
    assert broker_client.upload_file(src) == UPLOAD_SUCCESS
    info = broker_client.stat_artifact(name)
    assert (info["space"], info["name"], info["size"], info["sha256"]) == ("uploads", name, 100 * MIB, sha256_of(src))
    back = tmp_path / "back.bin"
    assert broker_client.fetch_artifact(name, save_path=back) is True
    assert sha256_of(back) == sha256_of(src)
    assert not Path(str(back) + ".partial").exists()
    assert peak_rss_bytes() - peak_before < 48 * MIB  # streamed in chunks, never the whole file
    assert ("uploads", name) in names(broker_client, "uploads")
    broker_client.delete_artifact(name)
    src.unlink()
    back.unlink()


def test_an_empty_file_round_trips_and_a_folder_as_save_path_keeps_the_name(broker_client, tmp_path):
    name = unique_id("empty") + ".txt"
    (tmp_path / name).write_bytes(b"")
    assert broker_client.upload_file(tmp_path / name) == UPLOAD_SUCCESS
    out = tmp_path / "out"
    out.mkdir()
    assert broker_client.fetch_artifact(name, save_path=out) is True
    assert (out / name).read_bytes() == b""


def test_list_and_delete(broker_client, tmp_path):
    name = unique_id("listed") + ".txt"
    (tmp_path / name).write_text("listed\n")
    broker_client.upload_file(tmp_path / name)
    (listed,) = [a for a in broker_client.list_artifacts() if a["name"] == name]
    assert listed["space"] == "uploads" and listed["size"] == 7 and listed["created_ms"] > 0
    assert ("uploads", name) not in names(broker_client, "perm_files")
    assert broker_client.delete_artifact(name) is True
    assert ("uploads", name) not in names(broker_client)
    assert broker_client.fetch_artifact(name, save_path=tmp_path / "gone") is False
    assert not (tmp_path / "gone").exists() and not (tmp_path / "gone.partial").exists()
    with pytest.raises(NotFoundError):
        broker_client.delete_artifact(name)


def test_a_missing_local_file_is_a_file_not_found_error_naming_the_path(broker_client, tmp_path):
    path = str(tmp_path / "nowhere" / "data.csv")
    for call in (broker_client.upload_file, broker_client.deploy_script, broker_client.upload_project_folder,
                 lambda p: broker_client.publish_artifact(unique_id("key"), p)):
        with pytest.raises(LocalFileNotFoundError) as e:
            call(path)
        assert isinstance(e.value, FileNotFoundError) and path in str(e.value) and e.value.filename == path


# ---- deployed scripts and projects ----------------------------------------------------------------------


def test_a_job_naming_only_a_deployed_script_runs_it(broker_client, tmp_path, elsewhere):
    name = unique_id("deployed").replace("-", "_") + ".py"
    script = write_script(tmp_path, name, """
        import sys
        print("deployed script says", " ".join(sys.argv[1:]))
    """)
    assert broker_client.deploy_script(script) == DEPLOY_SUCCESS
    assert broker_client.stat_artifact(name, space="perm_files")["sha256"] == sha256_of(script)
    assert not (elsewhere / name).exists()
    job_id = unique_id("run-deployed")
    assert run(broker_client, TitanJob(job_id, name, args="hello there")) == "COMPLETED"
    assert broker_client.fetch_logs(job_id) == "deployed script says hello there\n"


def test_a_job_whose_file_is_neither_here_nor_deployed_says_how_to_provide_it(broker_client, elsewhere):
    filename = "scripts/%s.py" % unique_id("never-deployed")
    job_id = unique_id("nofile")
    with pytest.raises(JobFileNotFoundError) as e:
        broker_client.submit_job(TitanJob(job_id, filename))
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, NotFoundError)
    assert e.value.filename == filename and filename in str(e.value) and "deploy_script" in str(e.value)
    assert broker_client.get_job_status(job_id) is None


NESTED_MAIN = """
    import hashlib, os, sys
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "data", "deep", "blob.bin"), "rb") as f:
        blob = f.read()
    print("args", sys.argv[1:])
    print("blob", len(blob), hashlib.sha256(blob).hexdigest())
"""


def test_an_uploaded_project_folder_runs_as_an_archive_job(broker_client, tmp_path, elsewhere):
    project = tmp_path / unique_id("proj")
    (project / "pkg" / "data" / "deep").mkdir(parents=True)
    (project / "empty").mkdir()
    write_script(project / "pkg", "main.py", NESTED_MAIN)
    blob = bytes(range(256)) * 1000 + b"\x00\xff"
    (project / "pkg" / "data" / "deep" / "blob.bin").write_bytes(blob)
    (project / "pkg" / "blob-link.bin").symlink_to("data/deep/blob.bin")  # stays inside: kept as a link
    assert broker_client.upload_project_folder(project) == UPLOAD_SUCCESS
    zip_name = project.name + ".zip"
    assert broker_client.stat_artifact(zip_name, space="perm_files") is not None
    job_id = unique_id("archive")
    state = run(broker_client, TitanJob(job_id, zip_name + "/pkg/main.py", is_archive=True, args="a b"))
    log = broker_client.fetch_logs(job_id)
    assert state == "COMPLETED", (broker_client.get_job(job_id).reason, log)
    assert log == "args ['a', 'b']\nblob %d %s\n" % (len(blob), hashlib.sha256(blob).hexdigest())


def test_a_local_project_zip_is_deployed_when_an_archive_job_names_it(broker_client, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    zip_name = unique_id("local") + ".zip"
    with zipfile.ZipFile(zip_name, "w") as zf:
        zf.writestr("tool/run.sh", "echo from the zip: \"$@\"\n")
    job_id = unique_id("local-archive")
    assert run(broker_client, TitanJob(job_id, zip_name + "/tool/run.sh", is_archive=True, args="x")) == "COMPLETED"
    assert broker_client.fetch_logs(job_id) == "from the zip: x\n"
    deployed = broker_client.stat_artifact(zip_name, space="perm_files")
    assert deployed["sha256"] == sha256_of(zip_name)
    again = unique_id("local-archive-again")
    assert run(broker_client, TitanJob(again, zip_name + "/tool/run.sh", is_archive=True)) == "COMPLETED"
    assert broker_client.stat_artifact(zip_name, space="perm_files") == deployed  # same content: not uploaded again


def test_a_script_too_big_to_send_inline_is_deployed_and_runs(broker_client, tmp_path):
    name = unique_id("big").replace("-", "_") + ".py"
    script = tmp_path / name
    with open(script, "w") as f:
        f.write("print('big script ran')\n")
        for _ in range(5 * 1024):
            f.write("# " + "x" * 1021 + "\n")  # 5 MiB: over one JOB_SUBMIT
    job_id = unique_id("big-script")
    assert run(broker_client, TitanJob(job_id, str(script))) == "COMPLETED"
    assert broker_client.fetch_logs(job_id) == "big script ran\n"
    assert broker_client.stat_artifact(name, space="perm_files")["sha256"] == sha256_of(script)


def test_an_archive_job_whose_project_was_never_deployed_says_how_to_provide_it(broker_client, elsewhere):
    zip_name = unique_id("ghost") + ".zip"
    job_id = unique_id("ghost-archive")
    with pytest.raises(JobFileNotFoundError) as e:
        broker_client.submit_job(TitanJob(job_id, zip_name + "/main.py", is_archive=True))
    assert zip_name in str(e.value) and "upload_project_folder" in str(e.value)
    assert broker_client.get_job_status(job_id) is None


def test_a_symlink_out_of_the_project_folder_is_refused(broker_client, tmp_path):
    project = tmp_path / unique_id("leaky")
    project.mkdir()
    (project / "main.py").write_text("print(1)\n")
    (project / "secret").symlink_to("/etc/hostname")
    (project / "up").symlink_to("../elsewhere.txt")
    with pytest.raises(TitanError, match="secret.*absolute path"):
        broker_client.upload_project_folder(project)
    (project / "secret").unlink()
    with pytest.raises(TitanError, match="up.*points outside"):
        broker_client.upload_project_folder(project)
    assert ("perm_files", project.name + ".zip") not in names(broker_client, "perm_files")


def test_zip_folder_keeps_inside_links_as_links_and_file_modes(tmp_path):
    project = tmp_path / "p"
    (project / "bin").mkdir(parents=True)
    (project / "bin" / "run.sh").write_text("echo hi\n")
    os.chmod(project / "bin" / "run.sh", 0o755)
    (project / "link.sh").symlink_to("bin/run.sh")
    zip_folder(str(project), str(tmp_path / "p.zip"))
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert sorted(infos) == ["bin/", "bin/run.sh", "link.sh"]
        assert (infos["link.sh"].external_attr >> 16) & 0o170000 == 0o120000
        assert zf.read("link.sh") == b"bin/run.sh"
        assert (infos["bin/run.sh"].external_attr >> 16) & 0o777 == 0o755


def test_zip_folder_refuses_a_folder_a_worker_would_not_unpack(tmp_path, monkeypatch):
    project = tmp_path / "p"
    (project / "sub").mkdir(parents=True)
    (project / "a.bin").write_bytes(b"a" * 600)
    (project / "sub" / "b.bin").write_bytes(b"b" * 600)
    monkeypatch.setattr(titan_sdk.project_zip, "MAX_PROJECT_BYTES", 1000)
    with pytest.raises(TitanError) as e:
        zip_folder(str(project), str(tmp_path / "p.zip"))
    assert str(e.value) == ("cannot pack '%s': it holds more than 1000 bytes of files, more than a worker unpacks; "
                            "move data out of the folder (into TitanStore or an uploaded artifact) or pack a smaller "
                            "folder" % project)
    monkeypatch.setattr(titan_sdk.project_zip, "MAX_PROJECT_BYTES", 1200)
    monkeypatch.setattr(titan_sdk.project_zip, "MAX_PROJECT_ENTRIES", 2)
    with pytest.raises(TitanError, match="more than 2 files and folders"):
        zip_folder(str(project), str(tmp_path / "p.zip"))
    assert not (tmp_path / "p.zip").exists()
    monkeypatch.setattr(titan_sdk.project_zip, "MAX_PROJECT_ENTRIES", 3)
    zip_folder(str(project), str(tmp_path / "p.zip"))
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert sorted(zf.namelist()) == ["a.bin", "sub/", "sub/b.bin"]


# ---- publish / get through TitanStore ---------------------------------------------------------------------


def test_a_job_publishes_a_report_and_the_client_gets_it_by_key(broker_client, tmp_path, monkeypatch):
    key = "run:%s:report" % unique_id("pub")
    publisher = write_script(tmp_path, "publisher.py", """
        import sys
        from titan_sdk import TitanClient
        with open("report.md", "w") as f:
            f.write("# Report\\nkey %s\\n" % sys.argv[1])
        print(TitanClient().publish_artifact(sys.argv[1], "report.md"))
    """)
    job_id = unique_id("publisher")
    state = run(broker_client, TitanJob(job_id, publisher, args=key))
    assert state == "COMPLETED", broker_client.fetch_logs(job_id)
    assert broker_client.fetch_logs(job_id) == "UPLOAD_SUCCESS\n"
    assert broker_client.store_get(key) == "report.md"
    monkeypatch.setattr(titan_sdk.artifacts, "DEFAULT_SAVE_DIR", str(tmp_path))  # the default, /tmp, elsewhere
    assert broker_client.get_artifact(key) is True
    assert (tmp_path / "report.md").read_text() == "# Report\nkey %s\n" % key
    assert broker_client.get_artifact(key, save_path=tmp_path / "copy.md") is True
    assert (tmp_path / "copy.md").read_text() == "# Report\nkey %s\n" % key


def test_get_artifact_of_an_unknown_key_or_a_vanished_file_is_false(broker_client, tmp_path):
    assert broker_client.get_artifact(unique_id("no-such-key"), save_path=tmp_path / "x") is False
    key = unique_id("dangling")
    broker_client.store_put(key, unique_id("never-uploaded") + ".txt")
    assert broker_client.get_artifact(key, save_path=tmp_path / "x") is False
    assert broker_client.fetch_artifact(unique_id("never-uploaded"), save_path=tmp_path / "x") is False
    assert not (tmp_path / "x").exists()
