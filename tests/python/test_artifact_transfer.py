# The SDK's side of the artifact dialog against a scripted broker (no cluster): uploads keep at most
# `credit` chunks unacknowledged and send sha256 and crc32, downloads keep several reads in flight and
# accept replies out of order, and a download whose bytes do not match leaves no file behind.
import hashlib
import os
import zlib

import pytest

from fake_node import FakeNode
from titan_sdk import InvalidError, TitanClient, protocol
from titan_sdk.protocol import MsgType
from titan_sdk.transfer import READ_CREDIT

CHUNK = 1000  # the fake broker's chunk_bytes


def reply(d, msg_type, **fields):
    return protocol.encode(msg_type, dict(fields, rid=d.rid))


class FakeRegistry:
    """A broker's artifact dialog holding replies back until `credit` requests wait (or the last one came),
    then answering them newest first, and recording how many were ever unanswered at once."""

    def __init__(self, content: bytes = b"", corrupt: bool = False, credit: int = 3):
        self.content, self.corrupt, self.credit = content, corrupt, credit
        self.sha256 = hashlib.sha256(content).hexdigest()
        self.held = []
        self.most_held = 0
        self.received = bytearray()
        self.put = None

    def __call__(self, d, frames):
        f = d.fields
        if d.type == MsgType.ARTIFACT_PUT:
            self.put = f
            return [reply(d, MsgType.ARTIFACT_UPLOAD, upload="u1", chunk_bytes=CHUNK, credit=self.credit)]
        if d.type == MsgType.ARTIFACT_CHUNK:
            assert f["offset"] == len(self.received) and f["crc32"] == zlib.crc32(d.blobs[0])
            self.received += d.blobs[0]
            return self._hold(d, len(self.received) == self.put["size"],
                              [reply(d, MsgType.ARTIFACT_CHUNK_ACK, upload="u1", received=len(self.received))])
        if d.type == MsgType.ARTIFACT_COMMIT:
            assert hashlib.sha256(self.received).hexdigest() == self.put["sha256"]
            return [reply(d, MsgType.ARTIFACT_INFO, artifact=self.info(len(self.received), self.put["sha256"]))]
        if d.type == MsgType.ARTIFACT_STAT:
            return [reply(d, MsgType.ARTIFACT_INFO, artifact=self.info(len(self.content), self.sha256))]
        if d.type == MsgType.ARTIFACT_READ:
            data = self.content[f["offset"]:f["offset"] + f["length"]]
            if self.corrupt and f["offset"] == 0:
                data = b"X" + data[1:]
            last = f["offset"] + f["length"] >= len(self.content)
            return self._hold(d, last, [reply(d, MsgType.ARTIFACT_DATA, sha256=f["sha256"], offset=f["offset"],
                                              size=len(self.content)) + [data]])
        raise AssertionError("unexpected %s" % d.type)

    def _hold(self, d, last, replies):
        self.held.append(replies[0])
        self.most_held = max(self.most_held, len(self.held))
        if len(self.held) < self.credit and not last:
            return []
        out, self.held = list(reversed(self.held)), []
        return out

    @staticmethod
    def info(size, sha256):
        return {"space": "uploads", "name": "f.bin", "sha256": sha256, "size": size, "created_ms": 1}


def test_an_upload_keeps_at_most_credit_chunks_unacknowledged(tmp_path):
    data = os.urandom(10 * CHUNK + 17)
    (tmp_path / "f.bin").write_bytes(data)
    registry = FakeRegistry(credit=3)
    with FakeNode(registry) as node, TitanClient(port=node.port, timeout=5) as c:
        info = c.put_artifact(tmp_path / "f.bin", "uploads", "f.bin")
    assert bytes(registry.received) == data
    assert registry.put == {"space": "uploads", "name": "f.bin", "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest(), "rid": registry.put["rid"]}
    assert registry.most_held == 3
    assert info["size"] == len(data)


def test_a_download_keeps_reads_in_flight_and_reorders_their_replies(tmp_path):
    content = os.urandom(3 * protocol.MAX_CHUNK_BYTES * READ_CREDIT // 2 + 5)
    registry = FakeRegistry(content, credit=READ_CREDIT)
    with FakeNode(registry) as node, TitanClient(port=node.port, timeout=5) as c:
        assert c.fetch_artifact("f.bin", save_path=tmp_path / "out.bin") is True
    assert (tmp_path / "out.bin").read_bytes() == content
    assert registry.most_held == READ_CREDIT
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_download_that_does_not_match_its_sha256_leaves_the_old_file_and_no_partial(tmp_path):
    registry = FakeRegistry(b"fresh content " * 1000, corrupt=True)
    (tmp_path / "out.bin").write_bytes(b"old")
    with FakeNode(registry) as node, TitanClient(port=node.port, timeout=5) as c:
        with pytest.raises(InvalidError, match="sha256"):
            c.fetch_artifact("f.bin", save_path=tmp_path / "out.bin")
    assert os.listdir(tmp_path) == ["out.bin"] and (tmp_path / "out.bin").read_bytes() == b"old"
