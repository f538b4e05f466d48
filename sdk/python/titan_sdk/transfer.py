# File transfer over the artifact dialog (schemas/protocol.yaml, ARTIFACT_*): upload() streams a local
# file to the broker in chunks, download() streams an artifact into `<save_path>.partial` and renames it
# into place once its size and sha256 check out. Both keep at most `credit` requests in flight on one
# Connection (a Pipeline) and never hold more than that many chunks in memory.
import hashlib
import os
import zlib
from typing import Any, BinaryIO, Dict, Tuple

from .errors import InvalidError, TitanError, TitanProtocolError
from .protocol import MAX_CHUNK_BYTES, MsgType
from .transport import Connection

READ_CREDIT = 8  # ARTIFACT_READs in flight during a download
COMMIT_BYTES_PER_S = 20 * 1024 * 1024  # the broker fsyncs the whole file before it answers COMMIT: allow for it
_HASH_PIECE = MAX_CHUNK_BYTES


def file_digest(f: BinaryIO) -> Tuple[str, int]:
    """(sha256 hex, size) of the rest of `f`, read in 1 MiB pieces."""
    h = hashlib.sha256()
    size = 0
    while True:
        piece = f.read(_HASH_PIECE)
        if not piece:
            return h.hexdigest(), size
        h.update(piece)
        size += len(piece)


def upload(conn: Connection, timeout: float, path: str, space: str, name: str) -> Dict[str, Any]:
    """Uploads the local file `path` as `space`/`name` and returns its ArtifactInfo (a dict).

    The sha256 goes in ARTIFACT_PUT, so the broker refuses the commit if what arrived differs (INVALID:
    the file changed while it was read). Any failure, interrupt included, aborts the upload: nothing is
    published. Raises OSError for a local file that cannot be read, TitanNodeError for the broker's refusals.
    """
    with open(path, "rb") as f:
        sha256, size = file_digest(f)
        f.seek(0)
        reply = conn.request(MsgType.ARTIFACT_PUT, {"space": space, "name": name, "size": size, "sha256": sha256},
                             timeout).fields
        upload_id = reply["upload"]
        try:
            _send_chunks(conn, timeout, f, upload_id, size, reply)
            return conn.request(MsgType.ARTIFACT_COMMIT, {"upload": upload_id},
                                timeout + size / COMMIT_BYTES_PER_S).fields["artifact"]
        except BaseException:
            _abort(conn, timeout, upload_id)
            raise


def _send_chunks(conn: Connection, timeout: float, f: BinaryIO, upload_id: str, size: int,
                 grant: Dict[str, Any]) -> None:
    chunk_bytes = max(1, min(int(grant["chunk_bytes"]), MAX_CHUNK_BYTES))
    credit = max(1, int(grant["credit"]))
    sent = acked = 0
    with conn.pipeline(timeout) as p:
        while acked < size or p.in_flight:
            while sent < size and p.in_flight < credit:
                data = f.read(min(chunk_bytes, size - sent))
                if not data:
                    raise TitanError("%s shrank to %d bytes while it was uploaded; upload it again"
                                     % (f.name, sent))
                p.send(MsgType.ARTIFACT_CHUNK, {"upload": upload_id, "offset": sent, "crc32": zlib.crc32(data)},
                       [data])
                sent += len(data)
            if not p.in_flight:
                raise TitanProtocolError("the broker acknowledged %d of the %d bytes sent for upload %s"
                                         % (acked, sent, upload_id))
            _, ack = p.receive()
            received = ack.fields["received"]
            if received > sent:
                raise TitanProtocolError("the broker acknowledged %d bytes of upload %s after %d of %d were sent"
                                         % (received, upload_id, sent, size))
            acked = max(acked, received)  # acks are cumulative; a late one changes nothing


def _abort(conn: Connection, timeout: float, upload_id: str) -> None:
    """Best effort: the broker also drops an upload that stays idle."""
    try:
        conn.request(MsgType.ARTIFACT_ABORT, {"upload": upload_id}, min(timeout, 5.0))
    except TitanError:
        pass


def stat(conn: Connection, timeout: float, space: str, name: str) -> Dict[str, Any]:
    """The ArtifactInfo of `space`/`name`. Raises NotFoundError when there is none."""
    return conn.request(MsgType.ARTIFACT_STAT, {"space": space, "name": name}, timeout).fields["artifact"]


def download(conn: Connection, timeout: float, space: str, name: str, save_path: str) -> Dict[str, Any]:
    """Downloads `space`/`name` to `save_path` and returns its ArtifactInfo.

    Writes `<save_path>.partial` in the same folder, checks size and sha256, fsyncs and renames it onto
    `save_path`: a reader sees the old file or the whole new one. On any failure the partial file is
    removed. Raises NotFoundError when there is no such artifact (or it was deleted meanwhile).
    """
    info = stat(conn, timeout, space, name)
    partial = save_path + ".partial"
    try:
        with open(partial, "wb") as out:
            digest = _receive_chunks(conn, timeout, info, out)
            out.flush()
            os.fsync(out.fileno())
        if digest != info["sha256"]:
            raise InvalidError("%s/%s arrived with sha256 %s, not the %s the broker announced; download it again"
                               % (space, name, digest, info["sha256"]))
        os.replace(partial, save_path)
    except BaseException:
        try:
            os.unlink(partial)
        except OSError:
            pass
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(save_path)))
    return info


def _receive_chunks(conn: Connection, timeout: float, info: Dict[str, Any], out: BinaryIO) -> str:
    """Reads the content `info` names into `out`, in order; returns its sha256 hex."""
    sha256, size = info["sha256"], info["size"]
    h = hashlib.sha256()
    asked = written = 0
    wanted: Dict[int, Tuple[int, int]] = {}  # rid -> (offset, length)
    early: Dict[int, bytes] = {}  # replies that came before an earlier offset's, by offset
    with conn.pipeline(timeout) as p:
        while written < size:
            while asked < size and p.in_flight < READ_CREDIT:
                length = min(MAX_CHUNK_BYTES, size - asked)
                rid = p.send(MsgType.ARTIFACT_READ, {"sha256": sha256, "offset": asked, "length": length})
                wanted[rid] = (asked, length)
                asked += length
            rid, reply = p.receive()
            offset, length = wanted.pop(rid)
            data = reply.blobs[0] if reply.blobs else b""
            if reply.fields["offset"] != offset or reply.fields["size"] != size or len(data) != length:
                raise TitanProtocolError("ARTIFACT_DATA for %s at offset %d has %d bytes of a %d-byte content; "
                                         "expected %d bytes of %d" % (sha256, reply.fields["offset"], len(data),
                                                                      reply.fields["size"], length, size))
            early[offset] = data
            while written in early:
                piece = early.pop(written)
                out.write(piece)
                h.update(piece)
                written += len(piece)
    return h.hexdigest()


def _fsync_dir(path: str) -> None:
    """Makes a rename in `path` durable where the platform allows it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
