# A real MCP client (the MCP SDK's stdio client) of `titan mcp`, which it launches as MCP clients do, and
# helpers to call tools and read resources.
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any, AsyncIterator, Dict

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from node_process import REPO_ROOT, titan_bin


def server_parameters(port: int, credential: Path) -> StdioServerParameters:
    """`titan --port PORT --credentials FILE mcp`, run with this interpreter and this checkout."""
    path = os.pathsep.join(str(REPO_ROOT / p) for p in ("sdk/python", "mcp_server"))
    return StdioServerParameters(command=str(titan_bin()),
                                 args=["--port", str(port), "--credentials", str(credential), "mcp"],
                                 env={"TITAN_MCP_PYTHON": sys.executable, "PYTHONPATH": path,
                                      "TITAN_HOME": os.environ["TITAN_HOME"]})


@contextlib.asynccontextmanager
async def mcp_session(port: int, credential: Path, log: Path) -> AsyncIterator[ClientSession]:
    """An initialized MCP session with `titan mcp` for the broker at `port`; its stderr goes to `log`."""
    with open(log, "a") as errlog:
        async with stdio_client(server_parameters(port, credential), errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                yield session


async def call(session: ClientSession, tool: str, **arguments: Any) -> Dict[str, Any]:
    """The structured result of a tool call that must succeed."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, "%s(%r) failed: %s" % (tool, arguments, error_text(result))
    return result.structured_content


async def refused(session: ClientSession, tool: str, **arguments: Any) -> str:
    """The message of a tool call that must fail (a tool error, not a crash of the server)."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, "%s(%r) succeeded: %s" % (tool, arguments, result.structured_content)
    return error_text(result)


def error_text(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


async def read_text(session: ClientSession, uri: str) -> str:
    result = await session.read_resource(uri)
    return "".join(c.text for c in result.contents)


async def read_json(session: ClientSession, uri: str) -> Any:
    return json.loads(await read_text(session, uri))

