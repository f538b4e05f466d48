# `titan mcp --http ADDR:PORT`: the MCP server over streamable HTTP at http://ADDR:PORT/mcp, for clients that
# connect to a URL. Whoever reaches it acts with the server's credential, so every request must carry
# "Authorization: Bearer <token>": TITAN_MCP_TOKEN, else a random token printed once in the READY line.
import os
import secrets
from typing import Optional

import uvicorn
from mcp.server.mcpserver import MCPServer
from starlette.types import ASGIApp, Receive, Scope, Send

PATH = "/mcp"


class RequireToken:
    """ASGI middleware: an HTTP request without the bearer token gets 401 and never reaches `app`."""

    def __init__(self, app: ASGIApp, token: str):
        self.app = app
        self.expected = ("Bearer " + token).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not secrets.compare_digest(given, self.expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body",
                            "body": b"send the token `titan mcp --http` printed (or TITAN_MCP_TOKEN) as "
                                    b"'Authorization: Bearer TOKEN'\n"})
                return
        await self.app(scope, receive, send)


class Server(uvicorn.Server):
    """Prints "READY mcp http://ADDR:PORT/mcp [token=TOKEN]" once the socket is bound (PORT 0: the one chosen)."""

    def __init__(self, config: uvicorn.Config, shown_token: Optional[str]):
        super().__init__(config)
        self.shown_token = shown_token

    async def startup(self, sockets=None):
        await super().startup(sockets)
        if self.started:
            port = self.servers[0].sockets[0].getsockname()[1]
            host = self.config.host
            url = "http://%s:%d%s" % ("[%s]" % host if ":" in host else host, port, PATH)
            print("READY mcp %s%s" % (url, " token=" + self.shown_token if self.shown_token else ""), flush=True)


async def serve(server: MCPServer, host: str, port: int) -> None:
    """Serves until SIGINT/SIGTERM."""
    token = os.environ.pop("TITAN_MCP_TOKEN", "").strip()
    shown = None if token else secrets.token_urlsafe(32)
    app = RequireToken(server.streamable_http_app(streamable_http_path=PATH, host=host), token or shown)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    await Server(config, shown).serve()
