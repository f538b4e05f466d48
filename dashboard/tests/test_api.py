# The API handlers on a fake SDK client (no broker): sessions and the one-time login link, CSRF and
# same-origin checks, roles, paging and filters, masking, 404s, escaping, "broker unavailable", a service
# restart, gates' time left by the server's clock, and a read-only broker.
import time

import pytest
from starlette.testclient import TestClient
from titan_sdk.errors import UnavailableError

from fake_client import FakeClient, job
from titan_dashboard import views
from titan_dashboard.app import make_app
from titan_dashboard.options import Options
from titan_dashboard.sessions import COOKIE

HOST = "http://testserver"


@pytest.fixture
def app():
    return make_app(Options(login_token="the-token"), own_credential=None, start_hub=False)


def login_as(app, role, client=None):
    """A TestClient logged in as principal `role` with that role, and the session's CSRF token."""
    session = app.state.sessions.create(role, role, client or FakeClient())
    http = TestClient(app, base_url=HOST)
    http.cookies.set(COOKIE, session.sid)
    return http, session


def test_pages_and_api_need_a_session(app):
    http = TestClient(app, base_url=HOST)
    assert http.get("/api/me").status_code == 401
    page = http.get("/jobs", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/login")


def test_the_login_link_works_once_and_sets_a_strict_http_only_cookie(app):
    http = TestClient(app, base_url=HOST)
    first = http.get("/login?token=the-token", follow_redirects=False)
    assert first.status_code == 303
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    me = http.get("/api/me").json()
    assert (me["principal"], me["role"], me["can"]["operate"]) == ("(plaintext)", "admin", True)
    assert TestClient(app, base_url=HOST).get("/login?token=the-token").status_code == 403
    assert TestClient(app, base_url=HOST).get("/login?token=wrong").status_code == 403


def test_a_reader_may_read_but_not_act_even_with_its_csrf_token(app):
    fake = FakeClient([job("a", "RUNNING")])
    http, session = login_as(app, "reader", fake)
    assert http.get("/api/jobs/a").json()["job"]["state"] == "RUNNING"
    refused = http.post("/api/jobs/a/stop", headers={"X-CSRF-Token": session.csrf})
    assert refused.status_code == 403 and "needs the operate permission" in refused.json()["error"]
    assert fake.actions == []


def test_an_action_needs_the_csrf_token_and_the_same_origin(app):
    fake = FakeClient([job("a", "RUNNING")])
    http, session = login_as(app, "operator", fake)
    assert http.post("/api/jobs/a/stop").status_code == 403
    assert http.post("/api/jobs/a/stop", headers={"X-CSRF-Token": "forged"}).status_code == 403
    cross = http.post("/api/jobs/a/stop", headers={"X-CSRF-Token": session.csrf, "Origin": "http://evil.example"})
    assert cross.status_code == 403 and "another site" in cross.json()["error"]
    ok = http.post("/api/jobs/a/stop", headers={"X-CSRF-Token": session.csrf, "Origin": HOST})
    assert ok.json() == {"state": "CANCELLED"} and fake.actions == [("stop", "a")]


def test_gate_decisions_are_made_as_the_logged_in_principal_and_a_reject_needs_a_reason(app):
    fake = FakeClient()
    http, session = login_as(app, "operator", fake)
    csrf = {"X-CSRF-Token": session.csrf}
    assert http.post("/api/gates/hitl-gate-a/approve", headers=csrf).json() == {"state": "COMPLETED"}
    assert http.post("/api/gates/hitl-gate-b/reject", headers=csrf, json={}).status_code == 400
    assert http.post("/api/gates/hitl-gate-b/reject", headers=csrf, json={"reason": "too risky"}).status_code == 200
    assert fake.actions == [("approve", "hitl-gate-a", "operator"), ("reject", "hitl-gate-b", "too risky", "operator")]


def test_jobs_are_filtered_and_paged_by_the_server(app):
    jobs = [job("j%03d" % i, "COMPLETED" if i % 2 else "FAILED", dag="d1" if i < 10 else None, worker="w1")
            for i in range(120)]
    fake = FakeClient(jobs)
    http, _ = login_as(app, "reader", fake)
    first = http.get("/api/jobs?state=failed&size=25").json()
    assert len(first["rows"]) == 25 and all(r["state"] == "FAILED" for r in first["rows"])
    second = http.get("/api/jobs?state=failed&size=25&before=%d" % first["next"]).json()
    third = http.get("/api/jobs?state=failed&size=25&before=%d" % second["next"]).json()
    assert (len(second["rows"]), len(third["rows"]), third["next"]) == (25, 10, None)
    assert len({r["id"] for r in first["rows"] + second["rows"] + third["rows"]}) == 60
    assert len(http.get("/api/jobs?dag=d1").json()["rows"]) == 10
    assert [r["id"] for r in http.get("/api/jobs?q=J11").json()["rows"]] == ["j11%d" % i for i in range(10)]
    # The broker filters: the dashboard passes every filter on and never fetches more than the page.
    http.get("/api/jobs?worker=w1&requirement=GPU&since_ms=5&until_ms=9&size=20")
    assert fake.pages_asked[-1] == {"state": None, "dag": None, "worker": "w1", "requirement": "GPU",
                                    "id_contains": None, "since_ms": 5, "until_ms": 9, "limit": 20, "before_seq": None}
    assert http.get("/api/jobs?since_ms=soon").status_code == 400
    assert "page cursor" in http.get("/api/jobs?before=x").json()["error"]


def test_secrets_are_masked_even_if_the_broker_sent_a_value(app):
    http, _ = login_as(app, "reader", FakeClient([job("s", secret_env=["API_KEY=hunter2", "TOKEN=****"])]))
    assert http.get("/api/jobs/s").json()["job"]["secret_env"] == ["API_KEY=****", "TOKEN=****"]


def test_an_unknown_id_is_a_404_page_with_the_id_escaped(app):
    http, _ = login_as(app, "reader", FakeClient())
    page = http.get("/jobs/<script>alert(1)</script>")
    assert page.status_code == 404 and "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert http.get("/api/jobs/nope").status_code == 404
    assert http.get("/dags/nope").status_code == 404


def test_pages_forbid_inline_scripts(app):
    http, _ = login_as(app, "reader", FakeClient())
    csp = http.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_a_broker_that_does_not_answer_is_reported_as_unavailable(app):
    fake = FakeClient([job("a")])
    fake.down = True
    http, _ = login_as(app, "reader", fake)
    down = http.get("/api/overview")
    assert down.status_code == 503 and down.json()["broker_down"] and "does not answer" in down.json()["error"]
    assert http.get("/jobs/a").status_code == 200  # the page loads and says so itself
    fake.down = False
    assert http.get("/api/overview").status_code == 200


def test_a_huge_log_is_sent_as_its_tail_with_its_size(app):
    log = b"".join(b"line %07d\n" % i for i in range(20000))  # 260,000 bytes
    http, _ = login_as(app, "reader", FakeClient([job("big")], log=log))
    tail = http.get("/api/jobs/big/log").json()
    assert tail["truncated"] and tail["next_offset"] == len(log) and tail["start"] == len(log) - 64 * 1024
    assert tail["text"].endswith("line 0019999\n")
    assert http.get("/api/jobs/big/log.txt").content == log


def test_a_file_downloads_with_its_bytes_and_an_unknown_one_is_a_404(app):
    fake = FakeClient()
    fake.files[("uploads", "out/report.bin")] = bytes(range(256)) * 3
    http, _ = login_as(app, "reader", fake)
    got = http.get("/api/files/uploads/out/report.bin")
    assert got.status_code == 200 and got.content == bytes(range(256)) * 3
    assert 'filename="report.bin"' in got.headers["content-disposition"]
    assert "no file uploads/nope" in http.get("/api/files/uploads/nope").json()["error"]
    assert "use uploads or perm_files" in http.get("/api/files/elsewhere/x").json()["error"]


def test_uploading_a_script_needs_the_submit_permission_and_the_csrf_token(app):
    for role in ("reader", "operator"):
        fake = FakeClient()
        http, session = login_as(app, role, fake)
        refused = http.post("/api/files/upload?name=run.sh", content=b"echo hi\n",
                            headers={"X-CSRF-Token": session.csrf})
        assert refused.status_code == 403 and "needs the submit permission" in refused.json()["error"]
        assert fake.files == {}
    fake = FakeClient()
    http, session = login_as(app, "admin", fake)
    assert http.post("/api/files/upload?name=run.sh", content=b"echo hi\n").status_code == 403  # no token
    done = http.post("/api/files/upload?name=tools/run.sh&space=perm_files", content=b"echo hi\n",
                     headers={"X-CSRF-Token": session.csrf})
    assert done.json()["file"]["size"] == 8 and fake.files == {("perm_files", "tools/run.sh"): b"echo hi\n"}
    bad = http.post("/api/files/upload?name=../x", content=b"x", headers={"X-CSRF-Token": session.csrf})
    assert bad.status_code == 400 and "artifact name" in bad.json()["error"]


def test_rerun_a_dag_and_enable_or_disable_a_schedule_need_the_submit_permission(app):
    posts = ("/api/dags/etl/rerun", "/api/schedules/nightly/disable", "/api/schedules/nightly/enable")
    for role in ("reader", "operator"):
        fake = FakeClient()
        http, session = login_as(app, role, fake)
        for path in posts:
            refused = http.post(path, headers={"X-CSRF-Token": session.csrf})
            assert refused.status_code == 403 and "needs the submit permission" in refused.json()["error"]
        assert fake.actions == []
    fake = FakeClient()
    http, session = login_as(app, "admin", fake)
    assert http.post(posts[0]).status_code == 403  # no CSRF token
    csrf = {"X-CSRF-Token": session.csrf}
    assert http.post(posts[0], headers=csrf).json() == {"dag": "etl#2"}
    assert http.post(posts[1], headers=csrf).json() == {"enabled": False}
    assert http.post(posts[2], headers=csrf).json() == {"enabled": True}
    assert http.post("/api/schedules/nightly/pause", headers=csrf).status_code == 404
    assert fake.actions == [("rerun", "etl"), ("disable", "nightly"), ("enable", "nightly")]


def test_a_service_restarts_with_the_operate_permission_and_the_csrf_token(app):
    services = [job("api", "RUNNING", job_type="SERVICE", ready=True, restarts=2, port=8080)]
    fake = FakeClient(services)
    http, session = login_as(app, "reader", fake)
    refused = http.post("/api/services/api/restart", headers={"X-CSRF-Token": session.csrf})
    assert refused.status_code == 403 and "needs the operate permission" in refused.json()["error"]
    http, session = login_as(app, "operator", fake)
    assert http.post("/api/services/api/restart").status_code == 403  # no CSRF token
    done = http.post("/api/services/api/restart", headers={"X-CSRF-Token": session.csrf}).json()["service"]
    assert (done["id"], done["state"], done["ready"], done["restarts"]) == ("api", "RUNNING", False, 2)
    assert fake.actions == [("restart", "api")]
    missing = http.post("/api/services/ghost/restart", headers={"X-CSRF-Token": session.csrf})
    assert missing.status_code == 404 and "no service 'ghost'" in missing.json()["error"]


def test_a_gates_time_left_comes_from_the_servers_clock(app):
    now_ms = int(time.time() * 1000)
    gate = job("hitl-gate-a", "WAITING_APPROVAL", kind="GATE", dag="d", expires_ms=now_ms + 3_600_000,
               started_ms=now_ms)
    http, _ = login_as(app, "reader", FakeClient([gate, job("a", dag="d")]))
    for shown in (http.get("/api/gates").json()["gates"][0],
                  next(n for n in http.get("/api/dags/d").json()["nodes"] if n["id"] == "hitl-gate-a")):
        assert 0 < shown["expires_in_ms"] <= 3_600_000  # as of the answer: the page counts down from it
    me = http.get("/api/me").json()
    assert now_ms <= me["now_ms"] <= int(time.time() * 1000)  # the pages' clock for durations


def test_a_read_only_broker_is_shown_on_every_page_and_its_refusal_passed_on(app):
    fake = FakeClient([job("a", "RUNNING")])
    http, session = login_as(app, "operator", fake)
    assert http.get("/api/me").json()["broker"]["read_only"] is None
    feed = app.state.hub.open(lambda ev: True)
    state = views.read_only_state({"read_only": True, "read_only_since_ms": 1700000000000,
                                   "read_only_reason": "disk full on the broker (/data/broker)"})
    app.state.hub.note_read_only(state)
    app.state.hub.note_read_only(dict(state))  # no change: no event
    assert http.get("/api/me").json()["broker"]["read_only"] == {
        "reason": "disk full on the broker (/data/broker)", "since_ms": 1700000000000}
    fake.refusal = UnavailableError("disk full on the broker (/data/broker); free space there, Titan resumes by "
                                    "itself")
    refused = http.post("/api/jobs/a/stop", headers={"X-CSRF-Token": session.csrf})
    assert refused.status_code == 503 and "broker_down" not in refused.json()
    assert refused.json()["error"] == ("UNAVAILABLE: disk full on the broker (/data/broker); free space there, "
                                       "Titan resumes by itself")
    app.state.hub.note_read_only(None)  # it can write again
    assert http.get("/api/me").json()["broker"]["read_only"] is None
    events = [feed.queue.get_nowait() for _ in range(feed.queue.qsize())]
    assert events == [{"type": "readonly", "read_only": state}, {"type": "readonly", "read_only": None}]


def test_job_events_are_counted_so_a_page_knows_what_its_feed_missed(app):
    hub = app.state.hub
    http, _ = login_as(app, "reader", FakeClient())
    for event in ({"type": "job", "id": "a", "state": "RUNNING"}, {"type": "scale", "worker": "w1-auto-1"},
                  {"type": "job", "id": "a", "state": "COMPLETED"}):
        hub.publish(event)
    assert http.get("/api/me").json()["job_events"] == 2  # what a page loaded now accounts for
    feed = hub.open(lambda ev: True)
    hub.publish({"type": "job", "id": "b", "state": "QUEUED"})
    assert (feed.job_events, hub.job_events) == (2, 3)  # the feed began after 2: it has the third itself
