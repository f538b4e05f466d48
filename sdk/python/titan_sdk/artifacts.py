# The TitanClient calls for file artifacts (seed 001, "File transfer"): uploads to the broker's
# `uploads` space, deployed scripts and zipped projects in `perm_files`, publish/get through TitanStore,
# downloads, list and delete. A mixin like DagCalls: TitanClient provides _broker_call, _transfer_connection
# and store_put/store_get. Transfers run on a socket of their own, so other threads' calls are not held up.
import os
import shutil
import tempfile
from typing import Any, Dict, List, Optional, Tuple, Union

from . import transfer
from .errors import InvalidError, LocalFileNotFoundError, NotFoundError, TitanError
from .project_zip import zip_folder
from .protocol import MsgType
from .schema import STRUCTS

UPLOADS = "uploads"        # files workers and users publish; fetch_artifact/get_artifact read here
PERM_FILES = "perm_files"  # deployed scripts and project zips that jobs name instead of sending inline
SPACES = (UPLOADS, PERM_FILES)
UPLOAD_SUCCESS = "UPLOAD_SUCCESS"
DEPLOY_SUCCESS = "DEPLOY_SUCCESS"
DEFAULT_SAVE_DIR = "/tmp"  # get_artifact/fetch_artifact save to /tmp/<basename> by default (seed 001)
MAX_NAME_BYTES = 1024      # the broker's limits on registry names (artifacts/artifact_name.h)
MAX_COMPONENT_BYTES = 255

_ARTIFACT_FIELDS = tuple(f.name for f in STRUCTS["ArtifactInfo"])
PathLike = Union[str, "os.PathLike[str]"]


def validate_name(name: str) -> str:
    """Returns `name` if the broker accepts it as a registry name: relative, '/'-separated, without empty,
    '.' or '..' components, control characters or backslashes. Raises InvalidError (what the broker would
    answer) otherwise, before anything is sent."""
    if not isinstance(name, str):
        raise TypeError("an artifact name must be str; got %s" % type(name).__name__)

    def refuse(why: str) -> InvalidError:
        return InvalidError("artifact name %r %s" % (name[:128], why))

    if not name:
        raise refuse("is empty: give a relative name such as 'scripts/run.py'")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise refuse("is longer than %d bytes: use a shorter name" % MAX_NAME_BYTES)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise refuse("contains a control character: use printable characters only")
    if "\\" in name:
        raise refuse("contains a backslash: separate folders with '/'")
    if name.startswith("/"):
        raise refuse("is absolute: use a relative name, without the leading '/'")
    for part in name.split("/"):
        if not part:
            raise refuse("has an empty component: remove the doubled or trailing '/'")
        if part == ".":
            raise refuse("is not allowed: remove its '.' components")
        if part == "..":
            raise refuse("is not allowed: use a relative name without '..' components")
        if len(part.encode("utf-8", "surrogateescape")) > MAX_COMPONENT_BYTES:
            raise refuse("has a component longer than %d bytes: shorten it" % MAX_COMPONENT_BYTES)
    return name


def split_archive_path(file: str) -> Optional[Tuple[str, str]]:
    """"a/proj.zip/src/main.py" -> ("a/proj.zip", "src/main.py"): split after the first component that
    ends in ".zip" (any case) and has an entry after it; None when there is none (as the broker splits)."""
    parts = file.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.lower().endswith(".zip"):
            entry = "/".join(parts[i + 1:])
            return ("/".join(parts[:i + 1]), entry) if entry else None
    return None


def local_file(path: PathLike, what: str = "file") -> str:
    """The absolute path of an existing regular file; LocalFileNotFoundError (naming it) when it does not
    exist, TitanError when it is not a file."""
    path = os.fspath(path)
    full = os.path.abspath(path)
    if not os.path.exists(full):
        raise LocalFileNotFoundError("%s %s not found (cwd %s); give a path, absolute or relative to the current "
                                     "directory" % (what, path, os.getcwd()), path)
    if not os.path.isfile(full):
        raise TitanError("%s is not a regular file; give the path of the file to upload" % path)
    return full


def _save_path(name: str, save_path: Optional[PathLike]) -> str:
    """Where a download of `name` goes: save_path (inside it when it is a folder), else /tmp/<basename>."""
    base = name.rsplit("/", 1)[-1]
    if save_path is None:
        return os.path.join(DEFAULT_SAVE_DIR, base)
    path = os.fspath(save_path)
    return os.path.join(path, base) if os.path.isdir(path) else path


def _record(fields: Dict[str, Any]) -> Dict[str, Any]:
    return {name: fields.get(name) for name in _ARTIFACT_FIELDS}


class ArtifactCalls:
    """File artifact calls of TitanClient. An artifact is reported as a dict with the protocol's
    ArtifactInfo fields: space ("uploads" or "perm_files"), name, sha256 (lowercase hex), size (bytes)
    and created_ms (Unix epoch ms).

    Names are relative paths inside a space; a name with '..', an absolute path or an empty component
    is refused with InvalidError before anything is sent. Uploads and downloads stream the file in
    chunks of at most 1 MiB, whatever its size, and verify its sha256 end to end: an upload becomes
    visible only when complete, a download is renamed into place only when complete and verified.
    """

    # ---- uploads ---------------------------------------------------------------------------------------

    def upload_file(self, filepath: PathLike) -> str:
        """Uploads the local file to the broker's `uploads` space under its basename (replacing an upload
        of that name). Returns "UPLOAD_SUCCESS". Raises LocalFileNotFoundError (a FileNotFoundError)
        naming the path when it does not exist."""
        path = local_file(filepath)
        self.put_artifact(path, UPLOADS, os.path.basename(path))
        return UPLOAD_SUCCESS

    def deploy_script(self, filepath: PathLike) -> str:
        """Deploys a worker script to `perm_files` under its basename: jobs may then name it
        (TitanJob(filename="<basename>")) from any machine, without the file. Returns "DEPLOY_SUCCESS"."""
        path = local_file(filepath, "script")
        self.put_artifact(path, PERM_FILES, os.path.basename(path))
        return DEPLOY_SUCCESS

    def upload_project_folder(self, path: PathLike) -> str:
        """Zips the local folder (entries relative to it; symlinks kept when they stay inside it, refused
        when they point outside) and uploads it to `perm_files` as "<folder name>.zip". Archive jobs then
        run an entry of it: TitanJob(filename="<folder name>.zip/src/main.py", is_archive=True).
        Returns "UPLOAD_SUCCESS". The zip is written to a temporary file, never held in memory."""
        folder = os.path.abspath(os.fspath(path))
        if not os.path.exists(folder):
            raise LocalFileNotFoundError("project folder %s not found (cwd %s)" % (os.fspath(path), os.getcwd()),
                                         os.fspath(path))
        if not os.path.isdir(folder):
            raise TitanError("%s is not a folder; upload_project_folder zips a folder (use upload_file for a file)"
                             % os.fspath(path))
        self._put_project(folder, validate_name(os.path.basename(os.path.normpath(folder)) + ".zip"))
        return UPLOAD_SUCCESS

    def publish_artifact(self, key: str, filename: PathLike) -> str:
        """Worker side: uploads `filename` to `uploads` under its basename and stores that basename in
        TitanStore under `key`, for get_artifact(key) elsewhere. Returns "UPLOAD_SUCCESS"."""
        path = local_file(filename)
        name = os.path.basename(path)
        self.put_artifact(path, UPLOADS, name)
        self.store_put(key, name)
        return UPLOAD_SUCCESS

    def put_artifact(self, filepath: PathLike, space: str, name: str) -> Dict[str, Any]:
        """Uploads the local file as `space`/`name` (any valid relative name) and returns the new artifact.
        The lower-level call behind upload_file, deploy_script and publish_artifact."""
        path = local_file(filepath)
        info = self._transfer(lambda conn: transfer.upload(conn, self.timeout, path, _space(space),
                                                           validate_name(name)))
        return _record(info)

    # ---- downloads -------------------------------------------------------------------------------------

    def get_artifact(self, key: str, save_path: Optional[PathLike] = None) -> bool:
        """Orchestrator side: reads the name published under `key` (publish_artifact) from TitanStore and
        downloads that upload to `save_path` (default /tmp/<name>; a folder: inside it). Returns True, or
        False when the key or the artifact does not exist. Timeouts and other errors raise."""
        name = self.store_get(key)
        if name is None:
            return False
        if isinstance(name, bytes):
            name = name.decode("utf-8", "surrogateescape")
        return self.fetch_artifact(name, save_path)

    def fetch_artifact(self, filename: str, save_path: Optional[PathLike] = None) -> bool:
        """Downloads uploads/<filename> to `save_path` (default /tmp/<basename>; a folder: inside it).
        Returns True, or False when there is no such upload. The file appears whole or not at all."""
        return self.download_artifact(filename, save_path, UPLOADS) is not None

    def download_artifact(self, name: str, save_path: Optional[PathLike] = None,
                          space: str = UPLOADS) -> Optional[Dict[str, Any]]:
        """Downloads `space`/`name` as fetch_artifact does; returns the artifact, or None when it does
        not exist."""
        validate_name(name)
        target = _save_path(name, save_path)
        try:
            info = self._transfer(lambda conn: transfer.download(conn, self.timeout, _space(space), name, target))
        except NotFoundError:
            return None
        return _record(info)

    # ---- registry --------------------------------------------------------------------------------------

    def list_artifacts(self, space: Optional[str] = None) -> List[Dict[str, Any]]:
        """The artifacts of `space` ("uploads" or "perm_files"; None: both), as dicts."""
        reply = self._broker_call(MsgType.ARTIFACT_LIST, space=_space(space) if space is not None else None)
        return [_record(a) for a in reply.fields["artifacts"]]

    def stat_artifact(self, name: str, space: str = UPLOADS) -> Optional[Dict[str, Any]]:
        """The artifact `space`/`name` as a dict, or None when there is none."""
        try:
            reply = self._broker_call(MsgType.ARTIFACT_STAT, space=_space(space), name=validate_name(name))
        except NotFoundError:
            return None
        return _record(reply.fields["artifact"])

    def delete_artifact(self, name: str, space: str = UPLOADS) -> bool:
        """Removes `space`/`name` from the registry (content a queued or running job still needs is kept
        until it ends). Returns True; raises NotFoundError when there is no such artifact."""
        self._broker_call(MsgType.ARTIFACT_DELETE, space=_space(space), name=validate_name(name))
        return True

    # ---- for submissions -------------------------------------------------------------------------------

    def _put_project(self, folder: str, name: str, only_if_changed: bool = False) -> Dict[str, Any]:
        """Zips the folder (project_zip.zip_folder: what a worker unpacks) into a temporary file and uploads
        it as perm_files/<name>; with `only_if_changed`, as _deploy does (not when the broker holds that
        content under that name already). Returns the artifact."""
        tmp = tempfile.mkdtemp(prefix="titan-project-")
        try:
            zip_path = os.path.join(tmp, name.rsplit("/", 1)[-1])
            zip_folder(folder, zip_path, exclude=[tmp])  # tmp is inside `folder` when zipping e.g. /tmp
            if only_if_changed:
                return self._deploy(zip_path, name)
            return self.put_artifact(zip_path, PERM_FILES, name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _deploy(self, path: str, name: str) -> Dict[str, Any]:
        """Makes perm_files/<name> hold the content of the local file `path`, uploading it only when the
        broker does not hold that content under that name already."""
        with open(path, "rb") as f:
            sha256, size = transfer.file_digest(f)
        current = self.stat_artifact(name, PERM_FILES)
        if current is not None and (current["sha256"], current["size"]) == (sha256, size):
            return current
        return self.put_artifact(path, PERM_FILES, name)


def _space(space: str) -> str:
    if space not in SPACES:
        raise InvalidError("unknown artifact space %r; use 'uploads' or 'perm_files'" % (space,))
    return space
