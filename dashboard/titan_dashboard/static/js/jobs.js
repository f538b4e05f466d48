// Jobs: the history with filters (state, DAG, worker, capability, id, time range) and paging done by the
// broker (a cursor per page, so it stays fast with 100,000 jobs); refreshed when the feed reports a job change.
"use strict";
const STATES = ["", "PENDING", "BLOCKED", "SCHEDULED", "QUEUED", "RUNNING", "WAITING_APPROVAL", "COMPLETED", "FAILED",
                "CANCELLED", "DEAD", "SKIPPED"];
const FILTERS = ["q", "state", "dag", "worker", "requirement"];

function query() { return new URLSearchParams(location.search); }

// Unix epoch ms <-> the value of a datetime-local input (local time, to the minute).
function toLocalInput(ms) {
  if (!ms) return "";
  const d = new Date(Number(ms));
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
}
function fromLocalInput(v) { const ms = new Date(v).getTime(); return isNaN(ms) ? "" : String(ms); }

function filterForm() {
  const q = query();
  const form = el("form", {id: "filters", class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      const value = k === "since" || k === "until" ? fromLocalInput(v) : v;
      if (value) p.set(k === "since" || k === "until" ? k + "_ms" : k, value);
    }
    trail.length = 0;  // new filters: back to the newest page
    history.replaceState(null, "", "/jobs?" + p);
    load().catch(showError);
  }});
  form.append(el("input", {name: "q", placeholder: "id contains", value: q.get("q") || ""}),
    el("select", {name: "state"}, STATES.map(s => el("option", {value: s, text: s || "any state",
                                                             selected: q.get("state") === s}))),
    el("input", {name: "dag", placeholder: "DAG", value: q.get("dag") || ""}),
    el("input", {name: "worker", placeholder: "worker", value: q.get("worker") || ""}),
    el("input", {name: "requirement", placeholder: "capability", value: q.get("requirement") || ""}),
    el("label", {text: " submitted from "}),
    el("input", {name: "since", type: "datetime-local", value: toLocalInput(q.get("since_ms"))}),
    el("label", {text: " to "}),
    el("input", {name: "until", type: "datetime-local", value: toLocalInput(q.get("until_ms"))}),
    el("button", {type: "submit", text: "Filter"}));
  return form;
}

// Newer pages are the cursors we came through (this page's memory); older ones follow the server's cursor.
const trail = [];

function go(before) {
  const p = query();
  if (before) p.set("before", before); else p.delete("before");
  history.replaceState(null, "", "/jobs?" + p);
  load().catch(showError);
}

function pager(r) {
  const here = query().get("before");
  return el("p", {class: "pager"},
    el("button", {id: "newest", text: "« newest", disabled: !here, onclick: () => { trail.length = 0; go(null); }}),
    el("button", {id: "newer", text: "‹ newer", disabled: !here, onclick: () => go(trail.pop() || null)}),
    " " + r.rows.length + " jobs" + (here ? "" : ", the newest first") + " ",
    el("button", {id: "older", text: "older ›", disabled: r.next === null,
                  onclick: () => { trail.push(here || ""); go(r.next); }}));
}

async function load() {
  const q = query();
  const p = new URLSearchParams();
  for (const k of FILTERS.concat(["before", "since_ms", "until_ms"])) if (q.get(k)) p.set(k, q.get(k));
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
