# The dashboard in a real headless Chromium against a real cluster (store, broker, two workers, CURVE on) and
# `titan dashboard`: the login link, workers, a DAG turning green live, a log followed live, gates approved
# and rejected with the buttons (audited under the principal), a gate's time left right on a browser whose
# clock is wrong, a running job stopped, a service restarted, a reader who sees no action and whose forged
# POST is refused, and an id holding HTML shown as text. Jobs wait for flag files the test writes, never for
# time; every wait has a deadline. Screenshots of each page go to a temporary folder.
import os
import re

import pytest

from browser import (browser, cell_text, have_chromium, paste_login, screenshot, secure_cluster, start_dashboard,
                     wait_for)
from cluster import unique_id, write_script
from http_service import answering_pid, deploy_http_service
from secure_cluster import client
from selenium.webdriver.common.by import By
from titan_sdk import TitanJob

pytestmark = pytest.mark.skipif(not have_chromium(), reason="needs chromium and chromium-driver (apt-get install "
                                "chromium chromium-driver, or TITAN_TEST_TOOLS=1 cli/install.sh)")

WAIT_FOR_FLAG = 'i=0; while [ ! -f "$1" ]; do i=$((i+1)); echo "tick $i"; sleep 0.2; done; echo done\n'
# A browser whose clock is three days fast: Date (new Date(), Date.now()) lies, performance.now() does not.
FAST_CLOCK_JS = """
(() => {
  const skew = 3 * 86400 * 1000, RealDate = Date;
  class FastDate extends RealDate {
    constructor(...args) { if (args.length) super(...args); else super(RealDate.now() + skew); }
    static now() { return RealDate.now() + skew; }
  }
  window.Date = FastDate;
})();
"""
# A browser whose live feeds connect only once the test sets window.releaseFeeds: what happens meanwhile happens
# between the page's load and its feed.
LATE_FEEDS_JS = """
(() => {
  const Real = window.EventSource;
  window.EventSource = class {
    constructor(url) {
      this.pending = [];
      const start = () => {
        if (this.closed) return;
        if (!window.releaseFeeds) return setTimeout(start, 50);
        this.real = new Real(url);
        for (const [kind, fn] of this.pending) this.real.addEventListener(kind, fn);
      };
      start();
    }
    addEventListener(kind, fn) { if (this.real) this.real.addEventListener(kind, fn); else this.pending.push([kind, fn]); }
    close() { this.closed = true; if (this.real) this.real.close(); }
  };
})();
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("dashboard")
    cluster, creds = secure_cluster(root)
    dashboard = None
    try:
        dashboard = start_dashboard(root, cluster.port, creds["admin"])
        url = dashboard.ready.group(1)
        driver = browser()
        try:
            driver.get(url)  # the one-time link logs the admin in
            wait_for(driver, lambda d: "admin" in cell_text(d, "#who .principal"), "the admin session")
            shots = tmp_path_factory.mktemp("screenshots")
            print("screenshots in", shots)
            with client(cluster, creds["admin"]) as sdk:
                yield {"root": root, "cluster": cluster, "creds": creds, "driver": driver, "sdk": sdk,
                       "base": url.split("/login")[0], "shots": shots}
        finally:
            driver.quit()
    finally:
        if dashboard is not None:
            dashboard.stop()
        cluster.stop()


@pytest.fixture
def flag_script(env, tmp_path):
    return write_script(tmp_path, "wait_flag.sh", WAIT_FOR_FLAG), tmp_path / "flag"


def row_state(driver, table: str, job_id: str) -> str:
    """The state shown in the row of `job_id` in the table with id `table`."""
    return driver.execute_script("""
        for (const row of document.querySelectorAll('#' + arguments[0] + ' tbody tr'))
          if (row.dataset.id === arguments[1]) return row.cells[1].innerText;
        return '';""", table, job_id)


def test_the_login_link_shows_two_workers_and_is_spent(env):
    d = env["driver"]
    d.get(env["base"] + "/")
    workers = "return [...document.querySelectorAll('#workers tbody tr')].map(r => r.dataset.worker);"
    wait_for(d, lambda d: {"w1", "w2"} <= set(d.execute_script(workers)), "workers w1 and w2 on the Overview")
    assert cell_text(d, "#workers tr[data-worker=w1] .slots").endswith("/4")
    # Each worker's CPU share arrives with its heartbeats and is drawn in its row, live.
    for name in ("w1", "w2"):
        wait_for(d, lambda d: re.match(r"^\d+ % of \d+$", cell_text(d, "#workers tr[data-worker=%s] .cpu" % name)),
                 "a CPU value for " + name)
    assert cell_text(d, "#workers tr[data-worker=w1] .mem").endswith(" GiB")
    screenshot(d, env["shots"], "overview")


def test_a_dag_turns_green_live_and_a_nodes_log_arrives(env, flag_script):
    script, flag = flag_script
    d, sdk = env["driver"], env["sdk"]
    a, b = unique_id("a"), unique_id("b")
    name = unique_id("dag")
    sdk.submit_dag(name, [TitanJob(a, script, args=str(flag)), TitanJob(b, script, args=str(flag), parents=[a])])
    d.get(env["base"] + "/dags/" + name)
    wait_for(d, lambda d: row_state(d, "nodes", a) == "RUNNING", "node a RUNNING")
    d.execute_script("window.notReloaded = true; titanCy.$id(arguments[0]).emit('tap');", a)
    wait_for(d, lambda d: "tick 3" in cell_text(d, "#node-log #log"), "log lines of a arriving live")
    flag.write_text("go")
    wait_for(d, lambda d: row_state(d, "nodes", a) == row_state(d, "nodes", b) == "COMPLETED", "both nodes COMPLETED")
    assert d.execute_script("return window.notReloaded === true && titanCy.$id(arguments[0]).data('state');", b) \
        == "COMPLETED"
    wait_for(d, lambda d: "done" in cell_text(d, "#node-log #log"), "the end of a's log")
    screenshot(d, env["shots"], "dag")
    d.get(env["base"] + "/dags")
    wait_for(d, lambda d: name in cell_text(d, "#dags"), "the DAG in the list")
    screenshot(d, env["shots"], "dags")


def gated(sdk, script, flag):
    job, child = unique_id("train"), unique_id("publish")
    name = unique_id("gated")
    sdk.submit_dag(name, [TitanJob(job, script, args=str(flag), hitl_message="Ship it?"),
                          TitanJob(child, script, args=str(flag), parents=[job])])
    return name, job, "hitl-gate-" + job, child


def test_a_page_catches_up_with_job_events_from_before_its_feed_began(env, flag_script):
    """Regression: a job that changed between a page's load and the start of its live feed stayed as loaded."""
    script, flag = flag_script
    d, sdk = env["driver"], env["sdk"]
    name, a = unique_id("late"), unique_id("a")
    sdk.submit_dag(name, [TitanJob(a, script, args=str(flag))])
    late = d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LATE_FEEDS_JS})["identifier"]
    try:
        d.get(env["base"] + "/dags/" + name)
        wait_for(d, lambda d: row_state(d, "nodes", a) == "RUNNING", "the job RUNNING as loaded")
        flag.write_text("go")
        assert sdk.wait(a, timeout=30) == "COMPLETED"  # published while the page has no feed
        d.execute_script("window.releaseFeeds = true;")
        wait_for(d, lambda d: row_state(d, "nodes", a) == "COMPLETED", "the page to catch up once its feed began")
    finally:
        d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": late})


def test_approve_with_the_button_runs_the_child_and_reject_with_a_reason(env, flag_script):
    script, flag = flag_script
    flag.write_text("go")  # the jobs end at once
    d, sdk = env["driver"], env["sdk"]
    name, job, gate, child = gated(sdk, script, flag)
    d.get(env["base"] + "/dags/" + name)
    button = wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#gates button[data-action=approve]"),
                      "the gate's Approve button")
    assert re.match(r"^expires in 4[78] h", cell_text(d, "#gates .gate .expires"))  # max_wait_s: 48 h by default
    button[0].click()
    wait_for(d, lambda d: row_state(d, "nodes", child) == "COMPLETED", "the child of the approved gate COMPLETED")
    screenshot(d, env["shots"], "dag-approved")
    _, job2, gate2, child2 = gated(sdk, script, flag)
    assert sdk.wait(job2, timeout=30) == "COMPLETED"
    paste_login(d, env["base"], env["creds"]["operator"])  # olivia, an operator, through the form
    d.get(env["base"] + "/gates")
    row = "#gates tr[data-gate='%s']" % gate2
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, row + " input.reason"), "the gate in the inbox")
    assert re.match(r"^expires in 4[78] h", cell_text(d, row + " .expires"))
    screenshot(d, env["shots"], "gates")
    d.find_element(By.CSS_SELECTOR, row + " input.reason").send_keys("not this week")
    d.execute_async_script("load().then(arguments[0]);")  # a live update redraws the inbox: the reason stays
    d.find_element(By.CSS_SELECTOR, row + " button[data-action=reject]").click()
    wait_for(d, lambda d: not d.find_elements(By.CSS_SELECTOR, row), "the rejected gate to leave the inbox")
    info = sdk.get_job(gate2)
    assert (info.state, info.decided_by) == ("FAILED", "olivia") and "not this week" in info.reason
    assert sdk.wait(child2, timeout=30) == "SKIPPED"
    decisions = [(e.principal, e.target) for e in sdk.audit(limit=1000) if e.action == "GATE_DECIDE"]
    assert ("admin", gate + " approve") in decisions and ("olivia", gate2 + " reject") in decisions


def test_a_gates_time_left_does_not_depend_on_the_browsers_clock(env, flag_script):
    script, flag = flag_script
    flag.write_text("go")
    d, sdk = env["driver"], env["sdk"]
    name, job, gate, child = gated(sdk, script, flag)
    assert sdk.wait(job, timeout=30) == "COMPLETED"
    fast = d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": FAST_CLOCK_JS})["identifier"]
    try:
        d.get(env["base"] + "/gates")
        row = "#gates tr[data-gate='%s']" % gate
        wait_for(d, lambda d: cell_text(d, row + " .expires"), "the gate in the inbox")
        assert d.execute_script("return Date.now() - performance.timeOrigin - performance.now();") > 2 * 86400e3
        assert re.match(r"^expires in 4[78] h", cell_text(d, row + " .expires")), cell_text(d, row + " .expires")
        d.get(env["base"] + "/dags/" + name)
        wait_for(d, lambda d: cell_text(d, "#gates .gate .expires"), "the gate banner")
        assert re.match(r"^expires in 4[78] h", cell_text(d, "#gates .gate .expires"))
    finally:
        d.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": fast})
    sdk.approve(gate)
    assert sdk.wait(child, timeout=30) == "COMPLETED"


def test_restart_a_service_with_its_button(env, tmp_path):
    d, sdk = env["driver"], env["sdk"]
    service, port = deploy_http_service(sdk, tmp_path)
    before = answering_pid(port)
    paste_login(d, env["base"], env["creds"]["operator"])
    d.get(env["base"] + "/services")
    row = "#services tr[data-id='%s']" % service
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, row + " button[data-action=restart]"),
             "the service's Restart button")[0].click()
    wait_for(d, lambda d: (cell_text(d, row + " .restarts"), cell_text(d, row + " .ready")) == ("1", "yes"),
             "the service ready again after its restart")
    screenshot(d, env["shots"], "services-restarted")
    assert answering_pid(port) != before
    info = sdk.get_job(service)
    assert (info.state, info.ready, info.restarts) == ("RUNNING", True, 1)
    restarts = [e.principal for e in sdk.audit(limit=1000) if e.action == "SERVICE_RESTART" and e.target == service]
    assert restarts == ["olivia"]
    sdk.stop_service(service)
    assert sdk.wait(service, timeout=30) == "CANCELLED"


def test_stop_a_running_job_from_its_page(env, flag_script):
    script, flag = flag_script
    d, sdk = env["driver"], env["sdk"]
    job = unique_id("long")
    sdk.submit_job(TitanJob(job, script, args=str(flag)))
    d.get(env["base"] + "/")  # as whoever is logged in: the admin or the operator
    paste_login(d, env["base"], env["creds"]["operator"])
    d.get(env["base"] + "/jobs/" + job)
    wait_for(d, lambda d: "RUNNING" in cell_text(d, "#job-spec h1") or "tick" in cell_text(d, "#log"),
             "the job running")
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action=stop]"), "the Stop button")[0].click()
    wait_for(d, lambda d: "CANCELLED" in cell_text(d, "#job-spec h1"), "the job CANCELLED on its page")
    screenshot(d, env["shots"], "job")


def test_a_reader_sees_no_action_and_a_forged_post_is_refused(env, flag_script):
    script, flag = flag_script
    d, sdk = env["driver"], env["sdk"]
    name, job, gate, child = gated(sdk, script, flag)
    flag.write_text("go")
    assert sdk.wait(job, timeout=30) == "COMPLETED"
    paste_login(d, env["base"], env["creds"]["reader"])
    d.get(env["base"] + "/dags/" + name)
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#gates .gate"), "the gate banner")
    assert d.find_elements(By.CSS_SELECTOR, "button[data-action]") == []
    forged = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/me').then(r => r.json()).then(me => fetch('/api/gates/' + arguments[0] + '/approve',
          {method: 'POST', headers: {'X-CSRF-Token': me.csrf, 'Content-Type': 'application/json'}, body: '{}'}))
          .then(r => done(r.status));""", gate)
    assert forged == 403 and sdk.get_job(gate).state == "WAITING_APPROVAL"
    screenshot(d, env["shots"], "reader-dag")
    sdk.approve(gate)


def test_an_id_holding_html_is_shown_as_text(env, flag_script):
    script, flag = flag_script
    flag.write_text("go")
    d, sdk = env["driver"], env["sdk"]
    evil = "<img src=x onerror=window.pwned=1>" + unique_id("x")
    sdk.submit_job(TitanJob(evil, script, args=str(flag)))
    assert sdk.wait(evil, timeout=30) == "COMPLETED"
    d.get(env["base"] + "/jobs")
    wait_for(d, lambda d: evil in cell_text(d, "#jobs"), "the job id as text in the list")
    screenshot(d, env["shots"], "jobs")
    d.get(env["base"] + "/jobs/" + evil.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20"))
    wait_for(d, lambda d: cell_text(d, "#job-id") == evil, "the job page")
    assert d.execute_script("return window.pwned === undefined && document.querySelectorAll('main img').length;") == 0
    d.get(env["base"] + "/jobs/no-such-job")
    assert "No such job" in d.find_element(By.TAG_NAME, "h1").text


def test_a_finished_dag_reruns_with_the_button_and_a_schedule_is_disabled_and_enabled(env, flag_script):
    script, flag = flag_script
    flag.write_text("go")
    d, sdk = env["driver"], env["sdk"]
    name, a = unique_id("rerun"), unique_id("a")
    sdk.submit_dag(name, [TitanJob(a, script, args=str(flag))])
    assert sdk.wait_dag(name, timeout=30)["state"] == "COMPLETED"
    paste_login(d, env["base"], env["creds"]["admin"])
    d.get(env["base"] + "/dags/" + name)
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action=rerun-dag]"), "the Re-run button")[0] \
        .click()
    wait_for(d, lambda d: cell_text(d, "#dag-id") == name + "#2", "the page of the new run")
    wait_for(d, lambda d: row_state(d, "nodes", a) == "COMPLETED", "the job of the re-run COMPLETED")
    assert sdk.get_job(a).run == 2
    schedule = unique_id("nightly")
    sdk.add_schedule(schedule, "0 2 * * *", [TitanJob("tick", script, args=str(flag))])
    row = "#schedules tr[data-schedule='%s']" % schedule
    d.get(env["base"] + "/schedules")
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, row + " button[data-action=disable]"), "Disable")[0].click()
    wait_for(d, lambda d: cell_text(d, row + " .enabled") == "disabled", "the schedule disabled")
    assert next(s for s in sdk.list_schedules() if s["name"] == schedule)["enabled"] is False
    d.find_element(By.CSS_SELECTOR, row + " button[data-action=enable]").click()
    wait_for(d, lambda d: cell_text(d, row + " .enabled") == "enabled", "the schedule enabled again")
    screenshot(d, env["shots"], "schedules")
    sdk.remove_schedule(schedule)


def downloaded(folder, name: str):
    """The bytes of `name` in `folder` once the browser finished writing it (no .crdownload left), else None."""
    path = folder / name
    if not path.exists() or any(p.suffix == ".crdownload" for p in folder.iterdir()):
        return None
    return path.read_bytes()


def test_a_published_file_downloads_with_its_bytes_and_a_script_uploads(env, tmp_path):
    d, sdk = env["driver"], env["sdk"]
    data = os.urandom(300_000) + b"<script>alert(1)</script>"
    name = unique_id("published") + ".bin"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / name).write_bytes(data)
    sdk.put_artifact(tmp_path / "src" / name, "uploads", "results/" + name)
    paste_login(d, env["base"], env["creds"]["admin"])
    saved = tmp_path / "downloads"
    saved.mkdir()
    d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(saved)})
    d.get(env["base"] + "/files")
    link = "#files tr[data-file='uploads/results/%s'] a.download" % name
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, link), "the published file in the list")[0].click()
    assert wait_for(d, lambda d: downloaded(saved, name), "the download of " + name) == data
    script = tmp_path / "src" / (unique_id("uploaded") + ".sh")
    script.write_bytes(b"#!/bin/sh\necho uploaded from the dashboard\n")
    d.find_element(By.ID, "upload-file").send_keys(str(script))
    d.find_element(By.CSS_SELECTOR, "#upload button[data-action=upload]").click()
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#files tr[data-file='perm_files/%s']" % script.name),
             "the uploaded script in the list")
    screenshot(d, env["shots"], "files")
    back = tmp_path / "back.sh"
    assert sdk.download_artifact(script.name, back, "perm_files") is not None and back.read_bytes() == \
        script.read_bytes()


def test_every_other_page_renders(env):
    d = env["driver"]
    for page, marker in (("events", "#events"), ("runs", "h1"), ("services", "h1"), ("schedules", "h1"),
                         ("files", "h1")):
        d.get(env["base"] + "/" + page)
        wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "main " + marker), "the %s page" % page)
        screenshot(d, env["shots"], page)


def test_zz_a_dead_broker_shows_as_unavailable_and_the_page_recovers_by_itself(env):
    """Last: it restarts the broker (on new worker and event ports, so the workers do not follow it)."""
    d, cluster = env["driver"], env["cluster"]
    d.get(env["base"] + "/")
    wait_for(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#workers tbody tr"), "the Overview")
    cluster.broker.kill9()
    wait_for(d, lambda d: "broker unavailable" in cell_text(d, "#banner"), "the broker unavailable banner")
    screenshot(d, env["shots"], "broker-down")
    cluster.crash_and_restart_broker()
    wait_for(d, lambda d: d.execute_script("return document.getElementById('banner').hidden;"), "the banner to go")
