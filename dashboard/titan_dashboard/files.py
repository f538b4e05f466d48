# The Files page's actions: download an artifact (any logged-in role) and upload a script (the submit
# permission, with the CSRF token, like every action). Bytes pass through a temporary file, since the SDK
# moves artifacts in verified chunks between a file and the broker; the file is removed once answered.
import os
import shutil
import tempfile

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse
from starlette.routing import Route
from titan_sdk.artifacts import validate_name

from .web import HttpError, api, need_action, need_session

SPACES = ("uploads", "perm_files")
MAX_UPLOAD_BYTES = 64 << 20  # a script, not a data set: larger files go with `titan upload`


def _space(text: str) -> str:
    if text not in SPACES:
        raise HttpError(400, "no artifact space %r: use uploads or perm_files" % text)
    return text


def _call(request: Request):
    return request.app.state.gateway.call


async def download(request: Request):
    session = need_session(request)
    space, name = _space(request.path_params["space"]), validate_name(request.path_params["name"])
    folder = tempfile.mkdtemp(prefix="titan-dashboard-")
    target = os.path.join(folder, "file")
    try:
        found = await _call(request)(session.client.download_artifact, name, target, space)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if found is None:
        shutil.rmtree(folder, ignore_errors=True)
        raise HttpError(404, "no file %s/%s: the Files page lists those there are" % (space, name))
    return FileResponse(target, filename=os.path.basename(name), media_type="application/octet-stream",
                        background=BackgroundTask(shutil.rmtree, folder, True))


async def upload(request: Request):
    session = need_action(request, "submit")
    space = _space(request.query_params.get("space") or "perm_files")
    name = validate_name(request.query_params.get("name") or "")
    folder = tempfile.mkdtemp(prefix="titan-dashboard-")
    try:
        path, size = os.path.join(folder, "file"), 0
        with open(path, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise HttpError(413, "%s is over %d MiB: upload large files with `titan upload`"
                                    % (name, MAX_UPLOAD_BYTES >> 20))
                out.write(chunk)
        return {"file": await _call(request)(session.client.put_artifact, path, space, name)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


ROUTES = [
    Route("/api/files/upload", api(upload), methods=["POST"]),
    Route("/api/files/{space:str}/{name:path}", api(download)),
]
