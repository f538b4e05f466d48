# `titan mcp --http`: the same server over streamable HTTP on a loopback port, reached by the MCP SDK's HTTP
# client with the bearer token it printed; a request without the token is refused before it reaches MCP.
import os
import re
import sys
import urllib.error
import urllib.request

import anyio
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from mcp_session import call
from node_process import NodeProcess

READY_RE = re.compile(r"^READY mcp (http://127\.0\.0\.1:\d+/mcp) token=(\S+)$")


@pytest.fixture(scope="module")
def http_server(secure, tmp_path_factory):
    cluster, creds = secure
    tmp_path = tmp_path_factory.mktemp("http")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TITAN_")}
    env.update(TITAN_MCP_PYTHON=sys.executable, TITAN_HOME=os.environ["TITAN_HOME"])
    proc = NodeProcess("mcp", ["--port", str(cluster.port), "--credentials", str(creds["admin"]), "mcp", "--http",
                               "127.0.0.1:0"], READY_RE, tmp_path / "mcp.stderr.log", env=env).start()
    try:
        yield proc.ready.group(1), proc.ready.group(2)
    finally:
        proc.stop()


def test_http_with_the_token_serves_the_tools(http_server):
    url, token = http_server

    async def main():
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer " + token}) as http:
            async with streamable_http_client(url, http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    assert (await call(session, "ping"))["principal"] == "admin"

    anyio.run(main)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic Zm9vOmJhcg=="])
def test_http_without_the_token_is_refused(http_server, authorization):
    url, _ = http_server
    request = urllib.request.Request(url, data=b'{"jsonrpc":"2.0","id":1,"method":"ping"}', method="POST",
                                     headers={"Content-Type": "application/json"})
    if authorization:
        request.add_header("Authorization", authorization)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401 and b"Authorization: Bearer" in refused.value.read()
