# The HTML pages: each one is the same shell (navigation, the read-only and broker banners, an empty <main>)
# plus its own script, which fetches JSON from the API and builds the page with textContent only, so nothing a
# job, a DAG or a log holds is ever parsed as HTML. A page for an id the broker does not know is a 404 page.
import html
from typing import List

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from .api import set_session_cookie
from .gateway import BrokerUnavailable
from .web import error_page, session_of

NAV = [("/", "Overview"), ("/jobs", "Jobs"), ("/dags", "DAGs"), ("/gates", "Gates"), ("/events", "Events"),
       ("/runs", "Agent runs"), ("/services", "Services"), ("/schedules", "Schedules"), ("/files", "Files")]
DAG_LIBS = ["vendor/dagre/dagre.min.js", "vendor/cytoscape/cytoscape.min.js",
            "vendor/cytoscape-dagre/cytoscape-dagre.js"]
PAGES = {  # page -> (title, its vendored libraries)
    "overview": ("Overview", ["vendor/uplot/uPlot.iife.min.js"]), "jobs": ("Jobs", []), "job": ("Job", []),
    "dags": ("DAGs", []), "dag": ("DAG", DAG_LIBS), "gates": ("Gates", []), "events": ("Events", []),
    "runs": ("Agent runs", []), "services": ("Services", []), "schedules": ("Schedules", []),
    "files": ("Files", []), "login": ("Log in", []),
}


def shell(page: str) -> str:
    title, libs = PAGES[page]
    css = "<link rel='stylesheet' href='/static/app.css'>"
    if page == "overview":
        css += "<link rel='stylesheet' href='/static/vendor/uplot/uPlot.min.css'>"
    scripts: List[str] = ["/static/vendor/" + lib[len("vendor/"):] for lib in libs]
    scripts += ["/static/js/common.js", "/static/js/%s.js" % page]
    nav = "" if page == "login" else "".join("<a href='%s'>%s</a>" % (href, html.escape(text)) for href, text in NAV)
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>%s · Titan</title>%s</head>"
            "<body data-page='%s'><header><span class='brand'>Titan</span><nav>%s</nav>"
            "<span id='who'></span></header><div id='read-only' hidden></div><div id='banner' hidden></div>"
            "<main id='main'></main>%s</body></html>"
            % (html.escape(title), css, page, nav,
               "".join("<script src='%s'></script>" % s for s in scripts)))


def page_route(page: str):
    async def handler(request: Request) -> Response:
        if session_of(request) is None:
            return RedirectResponse("/login", 303)
        return HTMLResponse(shell(page))
    return handler


def lookup_route(page: str, what: str, getter: str):
    """/jobs/ID, /dags/ID: the page, or a 404 page when the broker knows no such id."""
    async def handler(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", 303)
        ident = request.path_params["id"]
        try:
            found = await request.app.state.gateway.call(getattr(session.client, getter), ident)
        except BrokerUnavailable:
            found = True  # the page itself says the broker is unavailable, and loads once it is back
        if found is None:
            return error_page(404, "No such %s" % what, "The broker knows no %s %r. Check the id; the %s page "
                              "lists them." % (what, ident, "Jobs" if what == "job" else "DAGs"))
        return HTMLResponse(shell(page))
    return handler


async def login_page(request: Request) -> Response:
    """/login shows the form; /login?token=T (the URL `titan up` prints) logs the local admin in, once."""
    state = request.app.state
    token = request.query_params.get("token")
    if token is None:
        return HTMLResponse(shell("login"))
    if not state.sessions.take_token(token):
        return error_page(403, "This login link was used already or is wrong",
                          "Each printed login link works once. Log in with a credential file instead, or "
                          "restart the dashboard for a new link.")
    own = state.own_credential
    session = state.sessions.create(own.principal if own else "(plaintext)", own.role if own else "admin",
                                    state.gateway.client(own))
    response = RedirectResponse("/", 303)
    set_session_cookie(response, session.sid, state.opts.session_ttl_s)
    return response


async def no_icon(request: Request) -> Response:
    return Response(status_code=204)


ROUTES = [Route("/login", login_page), Route("/favicon.ico", no_icon), Route("/", page_route("overview"))] + [
    Route("/" + page, page_route(page)) for page in ("jobs", "dags", "gates", "events", "runs", "services",
                                                     "schedules", "files")] + [
    Route("/jobs/{id:path}", lookup_route("job", "job", "get_job")),
    Route("/dags/{id:path}", lookup_route("dag", "DAG", "get_dag")),
]
