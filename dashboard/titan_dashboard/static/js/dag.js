// One DAG: the graph (cytoscape, laid out by dagre, or breadth-first past BIG_DAG nodes) with each node coloured
// by its state and updated live from the feed; a click on a node shows its log, followed live. Gates waiting for a
// decision get a banner with Approve / Reject; the DAG can be cancelled, and re-run once finished.
"use strict";
const BIG_DAG = 200;  // nodes; see draw()
const dagId = pathId("/dags/");
const COLORS = {COMPLETED: "#2e9e5b", RUNNING: "#2f6fd6", QUEUED: "#8fa3bf", SCHEDULED: "#8fa3bf", PENDING: "#b9c2cf",
                BLOCKED: "#b9c2cf", WAITING_APPROVAL: "#e0a526", FAILED: "#d64541", DEAD: "#8b1e1b",
                CANCELLED: "#6b6b6b", SKIPPED: "#a8a8a8"};
let cy = null, nodes = new Map(), logStream = null;

function nodeRow(j) {
  return el("tr", {"data-id": j.id}, el("td", {}, jobLink(j.id)), el("td", {class: "state-cell"}, badge(j.state)),
            el("td", {text: j.worker || "—"}), el("td", {text: jobDuration(j)}), el("td", {text: j.reason || ""}));
}

function setState(id, state, extra) {
  const j = nodes.get(id);
  if (!j) return false;
  Object.assign(j, extra || {}, {state});
  if (cy) cy.$id(id).data({state, color: COLORS[state] || "#999"});
  const row = document.querySelector("#nodes tr[data-id='" + CSS.escape(id) + "']");
  if (row) row.replaceWith(nodeRow(j));
  return true;
}

function gateBanner(gates) {
  const box = el("section", {id: "gates"});
  for (const g of gates) {
    const reason = reasonInput(g.id);
    const url = "/api/gates/" + encodeURIComponent(g.id);
    box.append(el("div", {class: "gate", "data-gate": g.id},
      el("b", {text: "Approval needed: "}), el("span", {class: "message", text: g.message || ""}), " ",
      el("span", {class: "note", text: "(" + g.id + ")"}), " ", timeLeft(g.expires_in_ms), " ",
      actionButton("Approve", "approve", async () => { await post(url + "/approve"); }) || "",
      can("operate") ? reason : "",
      actionButton("Reject", "reject", async () => { await post(url + "/reject", {reason: reason.value}); }) || ""));
  }
  return box;
}

function draw(holder, graph) {
  const elements = graph.nodes.map(j => ({data: {id: j.id, label: j.kind === "GATE" ? "gate " + j.id : j.id,
                                                 state: j.state, color: COLORS[j.state] || "#999"}}))
    .concat(graph.edges.map(e => ({data: {id: e.source + "→" + e.target, source: e.source, target: e.target}})));
  // dagre's layered layout grows much faster than the graph (16 s for 1,000 nodes in headless Chromium): past
  // BIG_DAG nodes the graph is drawn level by level (breadth-first from its roots), which stays linear.
  const layout = graph.nodes.length > BIG_DAG ? {name: "breadthfirst", directed: true, spacingFactor: 0.7}
    : {name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 60};
  cy = cytoscape({container: holder, elements, maxZoom: 1.2, layout,
    style: [{selector: "node", style: {"background-color": "data(color)", label: "data(label)", "font-size": 10,
                                       "min-zoomed-font-size": 6,
                                       "text-valign": "bottom", "text-margin-y": 4, width: 22, height: 22}},
            {selector: "edge", style: {width: 1.5, "line-color": "#9aa5b5", "target-arrow-color": "#9aa5b5",
                                       "target-arrow-shape": "triangle", "curve-style": "bezier"}},
            {selector: "node:selected", style: {"border-width": 3, "border-color": "#222"}}]});
  cy.on("tap", "node", (ev) => showLog(ev.target.id()));
  window.titanCy = cy;
}

async function showLog(id) {
  const panel = document.getElementById("node-log");
  clear(panel).append(el("h2", {}, "Log of ", jobLink(id)));
  const holder = el("div");
  panel.append(holder);
  closeStream(logStream);
  logStream = null;
  const f = await followLog(id, holder);
  if (f) {
    logStream = openStream(f.params);
    logStream.addEventListener("log", (m) => f.log(JSON.parse(m.data)));
  }
}

function head(g) {
  const d = g.dag;
  const cancel = d.state !== "RUNNING" ? null : actionButton("Cancel DAG", "cancel-dag",
    async () => { await post("/api/dags/" + encodeURIComponent(d.id) + "/cancel"); });
  // A finished DAG runs again as a new DAG of the same name: this page then moves to it.
  const rerun = d.state === "RUNNING" ? null : actionButton("Re-run DAG", "rerun-dag", async () => {
    const r = await post("/api/dags/" + encodeURIComponent(d.id) + "/rerun");
    location.href = "/dags/" + encodeURIComponent(r.dag);
  }, "submit");
  return el("section", {id: "dag-head"},
    el("h1", {}, "DAG ", el("span", {id: "dag-id", text: d.id}), " ", el("span", {id: "dag-state"}, badge(d.state))),
    el("p", {class: "note"}, d.done + "/" + d.jobs + " done" + (d.failed ? ", " + d.failed + " failed" : "") +
       (d.agent_run_id ? " · agent run " + d.agent_run_id : "") + " · submitted " + fmtTime(d.submitted_ms)),
    cancel || "", rerun || "", gateBanner(g.nodes.filter(j => j.kind === "GATE" && j.state === "WAITING_APPROVAL")));
}

async function load() {
  const g = await api("/api/dags/" + encodeURIComponent(dagId));
  nodes = new Map(g.nodes.map(j => [j.id, j]));
  const holder = el("div", {id: "graph"});
  clear(main()).append(head(g), holder,
    table(["job", "state", "worker", "duration", "reason"], g.nodes.map(nodeRow), {id: "nodes"}),
    el("section", {id: "node-log"}));
  draw(holder, g);
}

// After a gate or a final state: the header (counts, gates, cancel) again; the whole page when jobs were added.
async function refresh() {
  const g = await api("/api/dags/" + encodeURIComponent(dagId));
  if (g.nodes.some(j => !nodes.has(j.id))) return load();
  document.getElementById("dag-head").replaceWith(head(g));
  for (const j of g.nodes) setState(j.id, j.state, j);
}

page(load, () => {
  const again = debounce(() => refresh().catch(showError), 500);
  return {back: again, resync: again, job: (ev) => {
    if (!setState(ev.id, ev.state, {worker: ev.worker, reason: ev.reason})) return;
    if (ev.state === "WAITING_APPROVAL" || FINAL.has(ev.state)) again();
  }};
});
