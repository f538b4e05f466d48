# Artifacts Titan must refuse or clean up, on a real cluster: names that leave their space, unknown
# spaces, interrupted, aborted and corrupt uploads, and a zip-slip project. No test sleeps.
import os
import types
import zipfile
import zlib
from pathlib import Path

import pytest

import titan_sdk.transfer
from artifact_helpers import MIB, names, run
from cluster import unique_id
from titan_sdk import UPLOAD_SUCCESS, InvalidError, NotFoundError, TitanJob
from titan_sdk.protocol import MsgType


# ---- refusals ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, why", [("../x", "'..'"), ("/etc/passwd", "absolute"), ("a/../../x", "'..'"),
                                       ("a//b", "empty component"), ("", "empty")])
def test_traversal_names_are_refused_by_the_sdk_and_by_the_broker(broker_client, raw, tmp_path, name, why):
    src = tmp_path / "f.txt"
    src.write_text("x\n")
    for call in (lambda: broker_client.put_artifact(src, "uploads", name),
                 lambda: broker_client.put_artifact(src, "perm_files", name),
                 lambda: broker_client.fetch_artifact(name, save_path=tmp_path / "out"),
                 lambda: broker_client.delete_artifact(name)):
        with pytest.raises(InvalidError) as e:
            call()
        assert why in str(e.value) and repr(name) in str(e.value)
    with pytest.raises(InvalidError) as e:  # the broker itself, without the SDK's check
        raw(MsgType.ARTIFACT_PUT, space="uploads", name=name, size=2)
    assert why in e.value.reason
    with pytest.raises(InvalidError):
        raw(MsgType.ARTIFACT_STAT, space="uploads", name=name)
    assert not (tmp_path / "out").exists()


def test_an_unknown_space_is_refused(broker_client, raw, tmp_path):
    with pytest.raises(InvalidError, match="unknown artifact space"):
        broker_client.list_artifacts("tmp")
    with pytest.raises(InvalidError, match="unknown artifact space"):
        raw(MsgType.ARTIFACT_PUT, space="../tmp", name="x", size=1)


def test_an_interrupted_upload_leaves_nothing_visible(broker_client, raw):
    name = unique_id("interrupted") + ".bin"
    grant = raw(MsgType.ARTIFACT_PUT, space="uploads", name=name, size=3 * MIB)
    chunk = os.urandom(MIB)
    for i in range(2):
        ack = raw(MsgType.ARTIFACT_CHUNK, [chunk], upload=grant["upload"], offset=i * MIB,
                  crc32=zlib.crc32(chunk))
        assert ack["received"] == (i + 1) * MIB
    # ... and then nothing: the upload stays open but invisible
    assert ("uploads", name) not in names(broker_client)
    assert broker_client.stat_artifact(name) is None
    with pytest.raises(InvalidError):  # incomplete: the commit is refused
        raw(MsgType.ARTIFACT_COMMIT, upload=grant["upload"])
    assert ("uploads", name) not in names(broker_client)


def test_an_aborted_upload_is_gone(broker_client, raw):
    name = unique_id("aborted") + ".bin"
    grant = raw(MsgType.ARTIFACT_PUT, space="uploads", name=name, size=2 * MIB)
    chunk = b"a" * MIB
    raw(MsgType.ARTIFACT_CHUNK, [chunk], upload=grant["upload"], offset=0, crc32=zlib.crc32(chunk))
    raw(MsgType.ARTIFACT_ABORT, upload=grant["upload"])
    with pytest.raises(NotFoundError):
        raw(MsgType.ARTIFACT_CHUNK, [chunk], upload=grant["upload"], offset=MIB,
            crc32=zlib.crc32(chunk))
    assert ("uploads", name) not in names(broker_client)


def test_chunks_with_a_wrong_offset_or_crc32_are_refused(broker_client, raw):
    name = unique_id("corrupt") + ".bin"
    data = b"0123456789" * 100
    crc = zlib.crc32(data)
    grant = raw(MsgType.ARTIFACT_PUT, space="uploads", name=name, size=2 * len(data))
    with pytest.raises(InvalidError):
        raw(MsgType.ARTIFACT_CHUNK, [data], upload=grant["upload"], offset=len(data), crc32=crc)  # skips ahead
    with pytest.raises(InvalidError, match="crc32"):
        raw(MsgType.ARTIFACT_CHUNK, [data], upload=grant["upload"], offset=0, crc32=crc ^ 1)
    raw(MsgType.ARTIFACT_ABORT, upload=grant["upload"])
    assert ("uploads", name) not in names(broker_client)


def test_an_sdk_upload_that_fails_midway_is_aborted(broker_client, tmp_path, monkeypatch):
    name = unique_id("midway") + ".bin"
    (tmp_path / name).write_bytes(os.urandom(20 * MIB))
    calls = []

    def crc32_then_interrupt(data):
        calls.append(len(data))
        if len(calls) == 5:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C during the upload
        return zlib.crc32(data)

    with monkeypatch.context() as m:
        m.setattr(titan_sdk.transfer, "zlib", types.SimpleNamespace(crc32=crc32_then_interrupt))
        with pytest.raises(KeyboardInterrupt):
            broker_client.upload_file(tmp_path / name)
    assert ("uploads", name) not in names(broker_client)
    assert broker_client.upload_file(tmp_path / name) == UPLOAD_SUCCESS  # the client is still usable
    assert broker_client.stat_artifact(name)["size"] == 20 * MIB


def test_a_zip_slip_project_fails_its_job_and_writes_nothing_outside(broker_client, cluster, tmp_path, elsewhere):
    evil = unique_id("evil") + ".py"
    slip = tmp_path / (unique_id("slip") + ".zip")
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("main.py", "print('should not run')\n")
        zf.writestr("../" + evil, "print('escaped')\n")
    broker_client.put_artifact(slip, "perm_files", slip.name)
    job_id = unique_id("zip-slip")
    assert run(broker_client, TitanJob(job_id, slip.name + "/main.py", is_archive=True)) == "FAILED"
    info = broker_client.get_job(job_id)
    assert "../" + evil in (info.reason or ""), info.reason
    assert "should not run" not in broker_client.fetch_logs(job_id)
    assert list(cluster.root.rglob(evil)) == [] and not (Path("/tmp") / evil).exists()
