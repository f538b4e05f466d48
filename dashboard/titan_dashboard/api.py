# The JSON API the pages call: reads with any logged-in role, actions with the role's permission and the
# session's CSRF token. Every broker call goes through the session's own client (its user's credential).
import functools
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route
from titan_sdk.credentials import parse_credential

from . import logtail, views
from .sessions import COOKIE
from .web import HttpError, api, json_body, need_action, need_session, same_origin

LIST_LIMIT = 10000  # the most JOB_LIST returns: the Overview's queues and throughput look at the newest this many


def _call(request: Request):
    return request.app.state.gateway.call


def _now_ms() -> int:
    """This server's wall clock, which the pages count time from (never the browser's)."""
    return int(time.time() * 1000)


@api
async def login(request: Request):
    if not same_origin(request):
        raise HttpError(403, "log in from the dashboard's own login page")
    body = await json_body(request)
    text = str(body.get("credential") or "")
    if not text.strip():
        raise HttpError(400, "paste the content of your credential file (`titan keys add NAME --role ROLE` makes "
                        "one)")
    credential = parse_credential(text)
    state = request.app.state
    client = state.gateway.client(credential)
    try:
        await state.gateway.call(client.get_stats)  # the broker admits the key and the role may read
    except BaseException:
        client.close()
        raise
    session = state.sessions.create(credential.principal, credential.role or "reader", client)
    response = JSONResponse({"principal": session.principal, "role": session.role})
    set_session_cookie(response, session.sid, state.opts.session_ttl_s)
    return response


def set_session_cookie(response, sid: str, ttl_s: float) -> None:
    response.set_cookie(COOKIE, sid, max_age=int(ttl_s), path="/", httponly=True, samesite="strict")


@api
async def logout(request: Request):
    session = need_action(request, "read")
    request.app.state.sessions.drop(session.sid)
    response = JSONResponse({"ok": True})
    response.delete_cookie(COOKIE, path="/")
    return response


@api
async def me(request: Request):
    session = need_session(request)
    gateway = request.app.state.gateway
    return {"principal": session.principal, "role": session.role, "csrf": session.csrf,
            "can": {p: session.can(p) for p in ("operate", "submit", "admin")}, "now_ms": _now_ms(),
            "job_events": request.app.state.hub.job_events,
            "broker": {"address": gateway.address, "up": gateway.up, "reason": gateway.reason,
                       "read_only": gateway.read_only}}


@api
async def overview(request: Request):
    session = need_session(request)
    call, client = _call(request), session.client
    stats = await call(client.get_stats)
    queued = await call(client.list_jobs, "QUEUED", LIST_LIMIT)
    finished = await call(client.list_jobs, None, LIST_LIMIT)
    rows = [views.job_row(j) for j in finished]
    return {"workers": views.workers_view(stats, request.app.state.hub_lost()), "counts": views.job_counts(stats),
            "queues": views.queue_depths(views.job_row(j) for j in queued),
            "throughput": views.throughput(rows, _now_ms()), "scaling": stats.get("scaling") or []}


@api
async def jobs(request: Request):
    session = need_session(request)
    query = dict(request.query_params)
    flt = views.JobFilter.from_query(query)
    size, before = views.page_size(query.get("size")), views.cursor(query.get("before"))
    page = await _call(request)(session.client.list_jobs_page, size, before, **flt.list_args())
    return views.jobs_page(page.jobs, size, page.next_before_seq)


async def _job_or_404(request: Request, session):
    job_id = request.path_params["id"]
    info = await _call(request)(session.client.get_job, job_id)
    if info is None:
        raise HttpError(404, "no job %r: check the id (the Jobs page lists them)" % job_id)
    return info


@api
async def job(request: Request):
    session = need_session(request)
    info = await _job_or_404(request, session)
    history = await _call(request)(session.client.job_history, info.id)
    return {"job": views.job_row(info), "runs": [views.job_row(r) for r in history]}


@api
async def job_log(request: Request):
    session = need_session(request)
    info = await _job_or_404(request, session)
    read = functools.partial(session.client.read_log, info.id)
    start = request.query_params.get("from")
    if start is not None and start.isdigit():
        return await _call(request)(logtail.since, read, int(start), request.app.state.opts.log_tail_bytes)
    return await _call(request)(logtail.tail, read, request.app.state.opts.log_tail_bytes)


async def job_log_download(request: Request):
    session = need_session(request)
    info = await _job_or_404(request, session)
    read = functools.partial(session.client.read_log, info.id)
    chunks = logtail.whole(read)

    async def body():
        while True:
            chunk = await _call(request)(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    headers = {"Content-Disposition": 'attachment; filename="%s.log"' % _safe_name(info.id)}
    return StreamingResponse(body(), media_type="text/plain; charset=utf-8", headers=headers)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "job"


@api
async def job_stop(request: Request):
    session = need_action(request, "operate")
    info = await _job_or_404(request, session)
    return {"state": await _call(request)(session.client.stop_job, info.id)}


@api
async def dags(request: Request):
    session = need_session(request)
    run = request.query_params.get("agent_run_id") or None
    return {"dags": await _call(request)(session.client.list_dags, run, 1000)}


@api
async def dag(request: Request):
    session = need_session(request)
    found = await _call(request)(session.client.get_dag, request.path_params["id"])
    if found is None:
        raise HttpError(404, "no DAG %r: check the id (the DAGs page lists them)" % request.path_params["id"])
    return views.dag_graph(found, _now_ms())


@api
async def dag_cancel(request: Request):
    session = need_action(request, "operate")
    return views.dag_graph(await _call(request)(session.client.cancel_dag, request.path_params["id"]), _now_ms())


@api
async def dag_rerun(request: Request):
    session = need_action(request, "submit")
    return {"dag": await _call(request)(session.client.rerun_dag, request.path_params["id"])}


@api
async def gates(request: Request):
    session = need_session(request)
    waiting = await _call(request)(session.client.list_jobs, "WAITING_APPROVAL", LIST_LIMIT)
    return {"gates": views.pending_gates(waiting, _now_ms())}


@api
async def gate_decide(request: Request):
    session = need_action(request, "operate")
    body = await json_body(request)
    approve = request.path_params["decision"] == "approve"
    reason = str(body.get("reason") or "").strip() or None
    if not approve and reason is None:
        raise HttpError(400, "say why the gate is rejected (a reason is required)")
    gate_id, client = request.path_params["id"], session.client
    if approve:
        state = await _call(request)(client.approve, gate_id, session.principal)
    else:
        state = await _call(request)(client.reject, gate_id, reason, session.principal)
    return {"state": state}


@api
async def runs(request: Request):
    session = need_session(request)
    found = await _call(request)(session.client.list_runs, 1000)
    for run in found:
        stages = await _call(request)(session.client.list_dags, run["id"], 1000)
        run["stages"] = list(reversed(stages))  # oldest first
    return {"runs": found}


@api
async def services(request: Request):
    session = need_session(request)
    listed = await _call(request)(session.client.list_jobs, None, LIST_LIMIT, "SERVICE")
    return {"services": [views.job_row(j) for j in listed], "now_ms": _now_ms()}


@api
async def service_restart(request: Request):
    session = need_action(request, "operate")
    info = await _call(request)(session.client.restart_service, request.path_params["id"])
    return {"service": views.job_row(info)}


@api
async def schedules(request: Request):
    session = need_session(request)
    return {"schedules": await _call(request)(session.client.list_schedules)}


@api
async def schedule_enable(request: Request):
    session = need_action(request, "submit")
    if request.path_params["action"] not in ("enable", "disable"):
        raise HttpError(404, "a schedule is enabled with POST .../enable and disabled with POST .../disable")
    enabled = request.path_params["action"] == "enable"
    await _call(request)(session.client.enable_schedule, request.path_params["name"], enabled)
    return {"enabled": enabled}


@api
async def files(request: Request):
    session = need_session(request)
    return {"files": await _call(request)(session.client.list_artifacts)}


ROUTES = [
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me),
    Route("/api/overview", overview),
    Route("/api/jobs", jobs),
    Route("/api/jobs/{id:path}/log.txt", job_log_download),
    Route("/api/jobs/{id:path}/log", job_log),
    Route("/api/jobs/{id:path}/stop", job_stop, methods=["POST"]),
    Route("/api/jobs/{id:path}", job),
    Route("/api/dags", dags),
    Route("/api/dags/{id:path}/cancel", dag_cancel, methods=["POST"]),
    Route("/api/dags/{id:path}/rerun", dag_rerun, methods=["POST"]),
    Route("/api/dags/{id:path}", dag),
    Route("/api/gates", gates),
    Route("/api/gates/{id:path}/{decision:str}", gate_decide, methods=["POST"]),
    Route("/api/runs", runs),
    Route("/api/services", services),
    Route("/api/services/{id:path}/restart", service_restart, methods=["POST"]),
    Route("/api/schedules", schedules),
    Route("/api/schedules/{name:path}/{action:str}", schedule_enable, methods=["POST"]),
    Route("/api/files", files),
]
