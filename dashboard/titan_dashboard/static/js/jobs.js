// Jobs: the history with filters (state, DAG, worker, capability, id, time range) and paging done by the
// server; refreshed when the feed reports a job change.
"use strict";
const STATES = ["", "PENDING", "BLOCKED", "SCHEDULED", "QUEUED", "RUNNING", "WAITING_APPROVAL", "COMPLETED", "FAILED",
                "CANCELLED", "DEAD", "SKIPPED"];
const FILTERS = ["q", "state", "dag", "worker", "requirement"];

function query() { return new URLSearchParams(location.search); }

function filterForm() {
  const q = query();
  const form = el("form", {id: "filters", class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    history.replaceState(null, "", "/jobs?" + p);
    load().catch(showError);
  }});
  form.append(el("input", {name: "q", placeholder: "id contains", value: q.get("q") || ""}),
    el("select", {name: "state"}, STATES.map(s => el("option", {value: s, text: s || "any state",
                                                             selected: q.get("state") === s}))),
    el("input", {name: "dag", placeholder: "DAG", value: q.get("dag") || ""}),
    el("input", {name: "worker", placeholder: "worker", value: q.get("worker") || ""}),
    el("input", {name: "requirement", placeholder: "capability", value: q.get("requirement") || ""}),
    el("button", {type: "submit", text: "Filter"}));
  return form;
}

function pager(r) {
  const go = (n) => { const p = query(); p.set("page", n); history.replaceState(null, "", "/jobs?" + p);
                      load().catch(showError); };
  return el("p", {class: "pager"},
    el("button", {text: "‹ newer", disabled: r.page <= 1, onclick: () => go(r.page - 1)}),
    " page " + r.page + " of " + r.pages + " (" + r.total + " jobs" + (r.truncated ? ", the newest 10,000" : "") +
    ") ",
    el("button", {text: "older ›", disabled: r.page >= r.pages, onclick: () => go(r.page + 1)}));
}

async function load() {
  const q = query();
  const p = new URLSearchParams();
  for (const k of FILTERS.concat(["page"])) if (q.get(k)) p.set(k, q.get(k));
  const r = await api("/api/jobs?" + p);
  const rows = r.rows.map(j => el("tr", {"data-id": j.id}, el("td", {}, jobLink(j.id)), el("td", {}, badge(j.state)),
    el("td", {}, j.dag ? dagLink(j.dag) : "—"), el("td", {text: j.worker || "—"}), el("td", {text: j.requirement}),
    el("td", {text: fmtTime(j.submitted_ms)}), el("td", {text: jobDuration(j)}), el("td", {text: j.reason || ""})));
  const m = clear(main());
  m.append(el("h1", {text: "Jobs"}), filterForm(), pager(r),
           table(["id", "state", "DAG", "worker", "capability", "submitted", "duration", "reason"], rows,
                 {id: "jobs"}));
}

page(load, (reload) => ({job: debounce(reload, 1000)}));
