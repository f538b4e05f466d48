// One job: its spec (secrets masked by the server), runs, timings, worker, reason, and its log with live follow.
"use strict";
const jobId = pathId("/jobs/");
let follower = null;

function field(name, value) { return el("tr", {}, el("th", {text: name}), el("td", {}, value)); }

function render(r) {
  const j = r.job;
  const m = clear(document.getElementById("job-spec"));
  const stop = FINAL.has(j.state) ? null : actionButton("Stop", "stop", async () => {
    await post("/api/jobs/" + encodeURIComponent(j.id) + "/stop"); });
  m.append(el("h1", {}, "Job ", el("span", {id: "job-id", text: j.id}), " ", badge(j.state)), stop || "",
    table(["", ""], [
      field("file", j.file), field("kind", j.kind || j.job_type || "job"), field("DAG", j.dag ? dagLink(j.dag) : "—"),
      field("requirement", j.requirement), field("priority", j.priority), field("parents",
        (j.parents || []).length ? (j.parents || []).flatMap((p, i) => [i ? ", " : "", jobLink(p)]) : "—"),
      field("worker", j.worker || "—"), field("attempt", j.attempt), field("exit code", j.exit_code ?? "—"),
      field("reason", j.reason || "—"), field("submitted", fmtTime(j.submitted_ms)),
      field("started", fmtTime(j.started_ms)), field("finished", fmtTime(j.finished_ms)),
      field("duration", jobDuration(j)), field("secret environment", (j.secret_env || []).join(" ") || "—"),
      field("limits", j.limits_text || "—"), field("usage", j.usage_text || "—"),
      j.message ? field("gate message", j.message) : null, j.decided_by ? field("decided by", j.decided_by) : null,
    ].filter(Boolean), {id: "spec", class: "kv"}));
  if (r.runs.length > 1) {
    m.append(el("h2", {text: "Runs of this id"}), table(["run", "state", "worker", "started", "finished", "reason"],
      r.runs.map(x => el("tr", {}, el("td", {text: x.run || 1}), el("td", {}, badge(x.state)),
        el("td", {text: x.worker || "—"}), el("td", {text: fmtTime(x.started_ms)}),
        el("td", {text: fmtTime(x.finished_ms)}), el("td", {text: x.reason || ""})))));
  }
}

async function load() {
  const r = await api("/api/jobs/" + encodeURIComponent(jobId));
  const holder = el("div", {id: "log-panel"});
  clear(main()).append(el("section", {id: "job-spec"}), el("h2", {text: "Log"}), holder);
  render(r);
  follower = await followLog(r.job.id, holder);
}

page(load, async (reload) => {
  const handlers = {job: (ev) => { if (ev.id === jobId) refresh(); }};
  const refresh = debounce(async () => render(await api("/api/jobs/" + encodeURIComponent(jobId))), 300);
  handlers.back = handlers.resync = refresh;  // the server-side follower fills the log in by itself
  if (follower) { handlers.log = (chunk) => follower.log(chunk); return {params: follower.params, handlers}; }
  return handlers;
});
