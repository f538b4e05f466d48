// Schedules: cron, jobs, next fire and last fire.
"use strict";
async function load() {
  const r = await api("/api/schedules");
  const rows = r.schedules.map(s => el("tr", {}, el("td", {text: s.name}), el("td", {text: s.cron}),
    el("td", {text: s.jobs}), el("td", {text: fmtTime(s.next_ms)}), el("td", {text: fmtTime(s.last_ms)})));
  clear(main()).append(el("h1", {text: "Schedules"}), rows.length
    ? table(["name", "cron (UTC)", "jobs", "next fire", "last fire"], rows, {id: "schedules"})
    : el("p", {class: "note", text: "No schedule (titan schedule add NAME \"0 2 * * *\" pipeline.yaml)."}));
}
page(load);
