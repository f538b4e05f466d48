// Schedules: cron, jobs, next fire, last fire and whether each is enabled; a role that may submit disables and
// enables them (a disabled schedule keeps its definition and does not fire).
"use strict";
function toggle(s) {
  const url = "/api/schedules/" + encodeURIComponent(s.name);
  return s.enabled === false
    ? actionButton("Enable", "enable", async () => { await post(url + "/enable"); await load(); }, "submit")
    : actionButton("Disable", "disable", async () => { await post(url + "/disable"); await load(); }, "submit");
}

async function load() {
  const r = await api("/api/schedules");
  const rows = r.schedules.map(s => el("tr", {"data-schedule": s.name}, el("td", {text: s.name}),
    el("td", {text: s.cron}), el("td", {text: s.jobs}),
    el("td", {text: s.enabled === false ? "— (disabled)" : fmtTime(s.next_ms)}), el("td", {text: fmtTime(s.last_ms)}),
    el("td", {class: "enabled", text: s.enabled === false ? "disabled" : "enabled"}), el("td", {}, toggle(s) || "")));
  clear(main()).append(el("h1", {text: "Schedules"}), rows.length
    ? table(["name", "cron (UTC)", "jobs", "next fire", "last fire", "state", ""], rows, {id: "schedules"})
    : el("p", {class: "note", text: "No schedule (titan schedule add NAME \"0 2 * * *\" pipeline.yaml)."}));
}
page(load);
