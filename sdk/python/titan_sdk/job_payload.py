# What a job runs and gets besides its script (docs/job-control.md): a command with its argv instead of a
# file, uploads placed in its directory, a work_dir, a runtime and volumes; their JobSpec fields.
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

# The sum of one job's uploads the broker accepts (they travel in the submission and are journaled with it).
MAX_UPLOAD_BYTES = 1 << 20

Upload = Union[Mapping[str, Any], str]


def upload_list(job_id: str, uploads: Sequence[Upload]) -> List[Dict[str, Any]]:
    """Joblet's uploads as Upload structs. Each is a dict {"path", "content" (bytes or str), "mode" (default
    0o644), "is_directory" (only False)}, or a local file's path (sent under its basename with its mode).
    ValueError names the upload that is wrong; the paths' confinement is the broker's and worker's check."""
    out: List[Dict[str, Any]] = []
    total = 0
    for up in uploads:
        if isinstance(up, (str, os.PathLike)):
            path = os.fspath(up)
            with open(path, "rb") as f:
                content = f.read()
            entry = {"path": os.path.basename(path), "content": content, "mode": os.stat(path).st_mode & 0o7777}
        elif isinstance(up, Mapping):
            if up.get("is_directory"):
                raise ValueError("job %r: upload %r is a directory; upload its files (each with its path)"
                                 % (job_id, up.get("path")))
            content = up.get("content", b"")
            if isinstance(content, str):
                content = content.encode("utf-8")
            if not isinstance(up.get("path"), str) or not isinstance(content, (bytes, bytearray)):
                raise ValueError("job %r: an upload needs 'path' (str) and 'content' (bytes or str); got %r"
                                 % (job_id, sorted(up)))
            entry = {"path": up["path"], "content": bytes(content)}
            if up.get("mode") is not None:
                entry["mode"] = int(up["mode"])
        else:
            raise TypeError("job %r: an upload is a dict or a local path; got %s" % (job_id, type(up).__name__))
        total += len(entry["content"])
        out.append(entry)
    if total > MAX_UPLOAD_BYTES:
        raise ValueError("job %r: its uploads hold %d bytes, more than the %d a job may carry; put larger files in "
                         "artifacts (client.upload_file) or a volume" % (job_id, total, MAX_UPLOAD_BYTES))
    return out


def payload_fields(job: Any) -> Dict[str, Any]:
    """The JobSpec fields of a TitanJob's command, argv, work_dir, runtime, volumes, uploads and cold_start."""
    spec: Dict[str, Any] = {}
    command: Optional[str] = getattr(job, "command", None)
    if command is not None:
        spec["command"] = str(command)
        spec["argv"] = [str(a) for a in (getattr(job, "argv", None) or [])]
    for name in ("work_dir", "runtime"):
        value = getattr(job, name, None)
        if value:
            spec[name] = str(value)
    if getattr(job, "volumes", None):
        spec["volumes"] = [str(v) for v in job.volumes]
    if getattr(job, "uploads", None):
        spec["uploads"] = upload_list(job.job_id, job.uploads)
    if getattr(job, "cold_start", False):
        spec["cold_start"] = True
    return spec
