# What every handler shares: the logged-in session, the checks before an action (role, CSRF token, same
# origin), and the mapping of failures to answers that say what was wrong and what to do.
import functools
import html
import json
from typing import Any, Awaitable, Callable, Optional

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from titan_sdk.errors import (AuthenticationError, ForbiddenError, InvalidError, JobNotFoundError, NotFoundError,
                              TitanError, UnavailableError)

from .gateway import BrokerUnavailable
from .sessions import COOKIE, Session


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def session_of(request: Request) -> Optional[Session]:
    return request.app.state.sessions.get(request.cookies.get(COOKIE))


def need_session(request: Request) -> Session:
    session = session_of(request)
    if session is None:
        raise HttpError(401, "not logged in (or the session expired): log in again at /login")
    return session


def same_origin(request: Request) -> bool:
    """A browser names the page a request came from in Origin; it must be this dashboard."""
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site request (those always carry Origin for POST)
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def need_action(request: Request, permission: str) -> Session:
    """The session, when it may act: its role grants `permission` and the request carries its CSRF token."""
    session = need_session(request)
    if not same_origin(request):
        raise HttpError(403, "this request came from another site (Origin %s); act from the dashboard's own pages"
                        % request.headers.get("origin"))
    if not session.csrf_ok(request.headers.get("x-csrf-token")):
        raise HttpError(403, "missing or wrong CSRF token: reload the page and try again")
    if not session.can(permission):
        raise HttpError(403, "principal %r (role %s) may not do this: it needs the %s permission; log in with "
                        "another credential" % (session.principal, session.role, permission))
    return session


def api(handler: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[Response]]:
    """A JSON handler: its return value as JSON; errors as {"error": why} with a fitting status."""
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            result = await handler(request)
        except HttpError as e:
            return JSONResponse({"error": e.message}, e.status)
        except BrokerUnavailable as e:
            return JSONResponse({"error": str(e), "broker_down": True}, 503)
        except ForbiddenError as e:
            return JSONResponse({"error": str(e)}, 403)
        except AuthenticationError as e:
            return JSONResponse({"error": str(e)}, 401)
        except (NotFoundError, JobNotFoundError) as e:
            return JSONResponse({"error": str(e)}, 404)
        except UnavailableError as e:  # the broker refused for now (read-only on a full disk): its own words
            return JSONResponse({"error": str(e)}, 503)
        except (InvalidError, ValueError) as e:
            return JSONResponse({"error": str(e)}, 400)
        except TitanError as e:
            return JSONResponse({"error": "the broker refused: %s" % e}, 502)
        return result if isinstance(result, Response) else JSONResponse(result)
    return wrapped


async def json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise HttpError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise HttpError(400, "the request body must be a JSON object")
    return body


def error_page(status: int, title: str, detail: str) -> Response:
    body = ("<!doctype html><html><head><meta charset='utf-8'><title>%s</title>"
            "<link rel='stylesheet' href='/static/app.css'></head><body><main class='error-page'>"
            "<h1>%s</h1><p>%s</p><p><a href='/'>Overview</a></p></main></body></html>"
            % (html.escape(title), html.escape(title), html.escape(detail)))
    return Response(body, status, media_type="text/html")
