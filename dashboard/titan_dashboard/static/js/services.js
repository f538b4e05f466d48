// Services: worker, port, ready, restarts, uptime; operators can restart one where it runs, or stop it.
"use strict";
function actions(s) {
  if (FINAL.has(s.state)) return [];
  const url = "/api/services/" + encodeURIComponent(s.id);
  const restart = async () => { await post(url + "/restart"); await load(); };
  const stop = async () => { await post("/api/jobs/" + encodeURIComponent(s.id) + "/stop"); };
  return [s.state === "RUNNING" ? actionButton("Restart", "restart", restart) : null,
          actionButton("Stop", "stop", stop)];
}

async function load() {
  const r = await api("/api/services");
  const rows = r.services.map(s => el("tr", {"data-id": s.id}, el("td", {}, jobLink(s.id)),
    el("td", {}, badge(s.state)),
    el("td", {text: s.worker || "—"}), el("td", {text: s.port ?? "—"}),
    el("td", {class: "ready", text: s.ready ? "yes" : "no"}), el("td", {class: "restarts", text: s.restarts ?? 0}),
    el("td", {text: s.up_since_ms && s.state === "RUNNING" ? fmtDur(r.now_ms - s.up_since_ms) : "—"}),
    el("td", {}, actions(s))));
  clear(main()).append(el("h1", {text: "Services"}), rows.length
    ? table(["service", "state", "worker", "port", "ready", "restarts", "uptime", ""], rows, {id: "services"})
    : el("p", {class: "note", text: "No service is deployed (titan deploy server.py 8080)."}));
}
page(load, (reload) => ({job: debounce(reload, 1000)}));
