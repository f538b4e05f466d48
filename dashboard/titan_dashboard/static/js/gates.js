// Gates: every human-in-the-loop gate waiting for a decision, with Approve / Reject (a reason is required to
// reject); the decision is recorded under the logged-in principal. Refreshed when a gate changes.
"use strict";
async function load() {
  const r = await api("/api/gates");
  const rows = r.gates.map(g => {
    const url = "/api/gates/" + encodeURIComponent(g.id);
    const reason = reasonInput(g.id);
    return el("tr", {"data-gate": g.id}, el("td", {}, jobLink(g.id)), el("td", {class: "message", text: g.message || ""}),
      el("td", {}, g.dag ? dagLink(g.dag) : "—"), el("td", {text: fmtTime(g.started_ms || g.submitted_ms)}),
      el("td", {}, timeLeft(g.expires_in_ms)),
      el("td", {}, actionButton("Approve", "approve", async () => { await post(url + "/approve"); }) || "",
        can("operate") ? reason : "",
        actionButton("Reject", "reject", async () => { await post(url + "/reject", {reason: reason.value}); }) || ""));
  });
  clear(main()).append(el("h1", {text: "Gates waiting for a decision"}), rows.length
    ? table(["gate", "message", "DAG", "waiting since", "time left", ""], rows, {id: "gates"})
    : el("p", {class: "note", id: "no-gates", text: "No gate is waiting for a decision."}));
}
page(load, (reload) => {
  const again = debounce(reload, 300);
  return {job: (ev) => { if (ev.id.startsWith("hitl-gate-")) again(); }};
});
