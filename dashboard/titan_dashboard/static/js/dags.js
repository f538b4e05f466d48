// DAGs: name, status, counts, started, duration; refreshed when the feed reports a job change.
"use strict";
async function load() {
  const r = await api("/api/dags");
  const rows = r.dags.map(d => el("tr", {"data-id": d.id}, el("td", {}, dagLink(d.id)), el("td", {}, badge(d.state)),
    el("td", {text: d.done + "/" + d.jobs + (d.failed ? " (" + d.failed + " failed)" : "")}),
    el("td", {text: d.agent_run_id || "—"}), el("td", {text: fmtTime(d.submitted_ms)}),
    el("td", {text: fmtDur((d.finished_ms || serverNow()) - d.submitted_ms)})));
  clear(main()).append(el("h1", {text: "DAGs"}),
    table(["DAG", "state", "done/jobs", "agent run", "submitted", "duration"], rows, {id: "dags"}));
}
page(load, (reload) => ({job: debounce(reload, 1000)}));
