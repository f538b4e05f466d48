# The TitanStore tools (values, sets, atomic counters) and the file tools: deploy a script, publish an
# artifact under a store key, fetch one. Content given as text is staged in a temporary folder for the SDK,
# which uploads files.
import contextlib
import os
import tempfile
from typing import Annotated, Any, Iterator, Optional

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field
from titan_sdk import TitanClient

from . import views
from .errors import reported
from .params import READ, FileName, StoreKey

MAX_TEXT_BYTES = 256 * 1024  # fetch_artifact returns a file's text up to this size
Content = Annotated[Optional[str], Field(description="The file's content as text.")]
LocalPath = Annotated[Optional[str], Field(description="Or: the path of a file on the machine this server runs "
                                                       "on.")]


@contextlib.contextmanager
def staged(name: str, content: Optional[str], path: Optional[str]) -> Iterator[str]:
    """The local file to upload as `name`: `path` as it is, or `content` written to a temporary file of that
    name (removed afterwards). ToolError unless exactly one of them is given or when `name` has a folder."""
    if (content is None) == (path is None):
        raise ToolError("give the file either as `content` (its text) or as `path` (a file here), not both or "
                        "neither")
    if path is not None:
        yield path
        return
    if not name or "/" in name or name in (".", ".."):
        raise ToolError("name %r must be a file name without folders, e.g. 'report.md'" % name)
    with tempfile.TemporaryDirectory(prefix="titan-mcp-") as folder:
        file = os.path.join(folder, name)
        with open(file, "w", encoding="utf-8") as f:
            f.write(content)
        yield file


def register(server: MCPServer, client: TitanClient) -> None:
    """Adds the TitanStore and artifact tools."""
    tool = reported(client.credential)

    @server.tool(annotations=READ)
    @tool
    def store_get(key: StoreKey) -> dict[str, Any]:
        """The value under a TitanStore key: "found" and "value" (text)."""
        value = client.store_get(key)
        return {"key": key, "found": value is not None, "value": views.text(value)}

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True))
    @tool
    def store_put(key: StoreKey, value: Annotated[str, Field(description="The value to store.")]) -> dict[str, Any]:
        """Saves a value under a TitanStore key (durably, replacing what was there). Jobs read it with the SDK's
        store_get."""
        client.store_put(key, value)
        return {"key": key, "ok": True}

    @server.tool()
    @tool
    def store_incr(key: StoreKey,
                   delta: Annotated[int, Field(description="What to add (negative to subtract).")] = 1
                   ) -> dict[str, Any]:
        """Atomically adds delta to the integer under a TitanStore key (a missing key counts as 0). Returns the
        new "value"."""
        return {"key": key, "value": client.store_incr(key, delta)}

    @server.tool(annotations=READ)
    @tool
    def store_smembers(key: StoreKey) -> dict[str, Any]:
        """The members of the TitanStore set under a key, in insertion order ([] when missing)."""
        return {"key": key, "members": [views.text(m) for m in client.store_smembers(key)]}

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True))
    @tool
    def store_sadd(key: StoreKey, member: Annotated[str, Field(description="The member to add.")]) -> dict[str, Any]:
        """Adds a member to the TitanStore set under a key. Returns "added" (false: it was there already)."""
        return {"key": key, "added": client.store_sadd(key, member) == 1}

    @server.tool(annotations=ToolAnnotations(idempotent_hint=True))
    @tool
    def deploy_script(name: FileName, content: Content = None, path: LocalPath = None) -> dict[str, Any]:
        """Deploys a script to the cluster under `name` (replacing one of that name): jobs then run it by that
        name (submit_job with filename=name and no script), from any machine."""
        with staged(name, content, path) as file:
            client.deploy_script(file)
            deployed = os.path.basename(file)
        return {"name": deployed, "artifact": client.stat_artifact(deployed, "perm_files")}

    @server.tool()
    @tool
    def publish_artifact(key: Annotated[StoreKey, Field(description="The TitanStore key to publish it under "
                                                        "(fetch_artifact and the SDK's get_artifact read it).")],
                         name: FileName, content: Content = None, path: LocalPath = None) -> dict[str, Any]:
        """Uploads a file to the cluster's uploads as `name` and stores that name under `key`, for jobs (the SDK's
        get_artifact(key)) and fetch_artifact to fetch."""
        with staged(name, content, path) as file:
            client.publish_artifact(key, file)
            published = os.path.basename(file)
        return {"key": key, "name": published, "artifact": client.stat_artifact(published)}

    @server.tool()
    @tool
    def fetch_artifact(key: Annotated[Optional[str], Field(description="A TitanStore key an artifact was "
                                                           "published under (publish_artifact, or a job's "
                                                           "publish_artifact).")] = None,
                       name: Annotated[Optional[str], Field(description="Or: the name of an upload.")] = None,
                       save_to: Annotated[Optional[str], Field(description="Also save it at this path on the "
                                                               "machine this server runs on.")] = None
                       ) -> dict[str, Any]:
        """Downloads an artifact (SHA-256 checked). Returns its name, size and sha256, and its "text" when it is
        UTF-8 text of at most 256 KiB; "saved_to" when save_to was given."""
        if (key is None) == (name is None):
            raise ToolError("name the artifact either by `key` (a TitanStore key) or by `name` (an upload), not "
                            "both or neither")
        if key is not None:
            name = views.text(client.store_get(key))
            if name is None:
                raise ToolError("nothing is published under key %r; publish_artifact (or a job's "
                                "publish_artifact) puts an artifact's name there" % key)
        with tempfile.TemporaryDirectory(prefix="titan-mcp-") as folder:
            target = save_to or folder
            if os.path.isdir(target):
                target = os.path.join(target, os.path.basename(name))
            info = client.download_artifact(name, target)
            if info is None:
                raise ToolError("no upload named %r; publish_artifact uploads one" % name)
            out: dict[str, Any] = {"name": name, "size": info["size"], "sha256": info["sha256"]}
            if save_to:
                out["saved_to"] = os.path.abspath(target)
            if info["size"] <= MAX_TEXT_BYTES:
                with open(target, "rb") as f:
                    data = f.read()
                try:
                    out["text"] = data.decode("utf-8")
                except UnicodeDecodeError:
                    out["binary"] = True
            return out
