# client.volumes: named persistent directories on a worker's machine (VOLUME_CREATE, VOLUME_LIST,
# VOLUME_REMOVE; docs/job-control.md, "Volumes"), in the shape of Joblet's VolumeService.
from typing import Any, Dict, List, Optional

from .errors import InvalidError, TitanNodeError, VolumeError
from .protocol import MsgType


def _joblet_volume(v: Dict[str, Any]) -> Dict[str, Any]:
    """A VolumeInfo as Joblet's dict: name, size, type, path, worker, created_time (ms), job_count, jobs."""
    jobs = list(v.get("jobs") or [])
    return {"name": v["name"], "size": v.get("size") or "", "size_bytes": v.get("size_bytes"), "type": v["type"],
            "path": v.get("path") or "", "worker": v["worker"], "created_time": v["created_ms"],
            "created_ms": v["created_ms"], "job_count": len(jobs), "jobs": jobs}


class VolumeService:
    """`client.volumes`. A volume lives on one worker; a job with volumes=["NAME:/path"] runs there and finds
    the directory at $TITAN_VOLUME_<NAME> and at <its job directory>/path."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def create_volume(self, name: str, size: Optional[str] = None, volume_type: str = "filesystem",
                      worker: Optional[str] = None) -> Dict[str, Any]:
        """Creates volume `name` ("1GB", "500MB" or bytes; a "memory" volume needs a size) on `worker` (default:
        the least loaded live worker). Returns its dict. VolumeError (an InvalidError) says what is wrong (exists already, bad
        name or size, no live worker)."""
        fields: Dict[str, Any] = {"name": name, "type": volume_type}
        if size is not None:
            fields["size"] = str(size)
        if worker:
            fields["worker"] = worker
        try:
            reply = self._client._broker_call(MsgType.VOLUME_CREATE, **fields).fields
        except InvalidError as e:
            raise VolumeError(e.reason) from None
        return _joblet_volume(reply["volumes"][0])

    def list_volumes(self) -> List[Dict[str, Any]]:
        """Every volume, as create_volume returns it (job_count: unfinished jobs naming it)."""
        reply = self._client._broker_call(MsgType.VOLUME_LIST).fields
        return [_joblet_volume(v) for v in reply["volumes"]]

    def remove_volume(self, name: str) -> Dict[str, Any]:
        """Removes the volume and its data. {"success": True, "message": ...}, or success False with the
        broker's reason (no such volume; in use by unfinished jobs)."""
        try:
            self._client._broker_call(MsgType.VOLUME_REMOVE, name=name)
        except TitanNodeError as e:
            return {"success": False, "message": e.reason}
        return {"success": True, "message": "volume %s removed" % name}
