# The ASGI app: routes, the static files, security headers, and the lifespan that starts the event hub.
import contextlib
import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from titan_sdk.credentials import find_credential

from . import api, files, health, metrics, pages, stream
from .events import EventHub
from .gateway import Gateway
from .options import Options
from .sessions import Sessions
from .web import error_page

STATIC = os.path.join(os.path.dirname(__file__), "static")
# Scripts only from this origin: even if some text reached the DOM as HTML, an inline <script> would not run.
# (Inline styles are allowed: the graph library injects its own stylesheet.)
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class SecurityHeaders:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
                message = dict(message, headers=headers)
            await send(message)
        await self.app(scope, receive, with_headers)


async def not_found(request: Request, exc) -> Response:
    if request.url.path.startswith("/api/"):
        from starlette.responses import JSONResponse
        return JSONResponse({"error": "no such API path %s" % request.url.path}, 404)
    return error_page(404, "Page not found", "There is no page %s here." % request.url.path)


def make_app(opts: Options, own_credential=None, start_hub: bool = True) -> Starlette:
    """The dashboard for the broker `opts` names; `own_credential` (a Credential, or None: the SDK finds one) is
    what it follows the event feed with and what the one-time login link logs in as."""
    gateway = Gateway(opts)
    if own_credential is None:
        own_credential = find_credential(opts.credentials, *gateway.first_broker())
    hub = EventHub(gateway, own_credential)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if start_hub:
            await hub.start()
        try:
            yield
        finally:
            await hub.stop()
            app.state.sessions.close_all()

    routes = api.ROUTES + files.ROUTES + [Route("/api/stream", stream.stream)] + pages.ROUTES + health.ROUTES + \
        metrics.ROUTES + [
        Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={404: not_found})
    app.state.opts = opts
    app.state.gateway = gateway
    app.state.hub = hub
    app.state.hub_lost = lambda: hub.lost
    app.state.own_credential = own_credential
    app.state.sessions = Sessions(opts.session_ttl_s, opts.login_token)
    app.state.metrics_registry = metrics.registry_for(metrics.client_fetch(lambda: gateway.client(own_credential)))
    app.state.readiness = health.Readiness(lambda: gateway.client(own_credential, opts.ready_timeout_s),
                                           opts.ready_timeout_s)
    return app
