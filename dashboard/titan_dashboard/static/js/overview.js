// Overview: workers (slots busy/total, state, capabilities), jobs per state, queue depth per capability and
// throughput over the last hour. Refreshed when the feed reports a job or worker change, never on a timer.
"use strict";
let chart = null;

function workerRow(w) {
  const m = w.metrics || null;
  return el("tr", {"data-worker": w.name, class: w.state === "LOST" ? "lost" : null},
    el("td", {text: w.name}), el("td", {text: w.host || "—"}),
    el("td", {class: "slots", text: w.busy + "/" + w.slots}), el("td", {}, badge(w.state)),
    el("td", {text: (w.capabilities || []).join(", ")}),
    el("td", {class: "cpu", text: m ? m.cpu_percent.toFixed(0) + " %" : "—"}),
    el("td", {class: "mem", text: m ? (m.mem_used_mb / 1024).toFixed(1) + " / " + (m.mem_total_mb / 1024).toFixed(1) +
                                      " GiB" : "—"}),
    el("td", {text: m ? m.load1.toFixed(2) : "—"}),
    el("td", {text: m ? (m.disk_free_mb / 1024).toFixed(1) + " GiB" : "—"}),
    el("td", {text: (w.running || []).length}));
}

function drawChart(node, counts) {
  const now = Math.floor(Date.now() / 60000) * 60;
  const xs = counts.map((_, i) => now - (counts.length - 1 - i) * 60);
  const data = [xs, counts];
  if (chart && chart.root.isConnected) { chart.setData(data); return; }
  chart = new uPlot({width: Math.min(900, node.clientWidth || 800), height: 180,
                     series: [{}, {label: "jobs finished / min", stroke: "#2b7a4b", fill: "rgba(43,122,75,.15)"}],
                     axes: [{}, {}]}, data, node);
}

async function load() {
  const o = await api("/api/overview");
  const m = clear(main());
  const c = o.counts;
  m.append(el("h1", {text: "Overview"}),
    el("section", {class: "tiles", id: "counts"}, Object.entries(c).map(([k, v]) =>
      el("div", {class: "tile", "data-count": k}, el("b", {text: v}), el("span", {text: k})))),
    el("h2", {text: "Workers"}),
    table(["name", "host", "slots busy/total", "state", "capabilities", "CPU", "memory", "load", "disk free", "jobs"],
          o.workers.map(workerRow), {id: "workers"}),
    el("h2", {text: "Queues"}),
    Object.keys(o.queues).length
      ? table(["capability", "queued"], Object.entries(o.queues).map(([k, v]) =>
          el("tr", {}, el("td", {text: k}), el("td", {text: v}))), {id: "queues"})
      : el("p", {class: "note", text: "No job is waiting for a worker."}),
    el("h2", {text: "Throughput, last hour"}));
  const holder = el("div", {id: "throughput"});
  m.append(holder);
  chart = null;
  drawChart(holder, o.throughput);
}

page(load, (reload) => {
  const again = debounce(reload, 1000);
  return {job: again, worker: (ev) => { if (ev.event !== "heartbeat") again(); else again(); }, scale: again};
});
