// Overview: workers (slots busy/total, state, capabilities, their machine: CPU, memory, load, disk, GPUs), jobs
// per state, queue depth per capability and throughput over the last hour. Refreshed when the feed reports a job
// or worker change, never on a timer; a heartbeat redraws its worker's row only.
"use strict";
let chart = null;

// A number with `digits` decimals and a unit, or "—" when the worker did not report it.
function num(v, digits, unit) { return v === null || v === undefined ? "—" : v.toFixed(digits) + unit; }

function gib(mb) { return mb === null || mb === undefined ? null : mb / 1024; }

function machineCells(m) {
  if (!m) return ["—", "—", "—", "—", "—"].map(t => el("td", {text: t}));
  const mem = m.mem_used_mb === null || m.mem_total_mb === null ? "—"
    : gib(m.mem_used_mb).toFixed(1) + " / " + gib(m.mem_total_mb).toFixed(1) + " GiB";
  const gpus = (m.gpus || []).map(g => "GPU" + g.index + " " + g.util_percent + " % " +
    (g.mem_used_mb / 1024).toFixed(1) + "/" + (g.mem_total_mb / 1024).toFixed(1) + " GiB");
  return [el("td", {class: "cpu", text: num(m.cpu_percent, 0, " %") + (m.cpus ? " of " + m.cpus : "")}),
          el("td", {class: "mem", text: mem}), el("td", {class: "load", text: num(m.load1, 2, "")}),
          el("td", {class: "disk", text: num(gib(m.disk_free_mb), 1, " GiB")}),
          el("td", {class: "gpu", text: gpus.join(", ") || "—"})];
}

function workerRow(w) {
  return el("tr", {"data-worker": w.name, class: w.state === "LOST" ? "lost" : null},
    el("td", {text: w.name}), el("td", {text: w.host || "—"}),
    el("td", {class: "slots", text: w.busy + "/" + w.slots}), el("td", {}, badge(w.state)),
    el("td", {text: (w.capabilities || []).join(", ")}), ...machineCells(w.metrics),
    el("td", {text: (w.running || []).length}));
}

// A heartbeat: that worker's row again, in place (no reload); a worker not shown yet reloads the page.
function beat(w, reload) {
  const row = [...document.querySelectorAll("#workers tr[data-worker]")].find(r => r.dataset.worker === w.name);
  if (row) row.replaceWith(workerRow(w)); else reload();
}

function drawChart(node, counts) {
  const now = Math.floor(serverNow() / 60000) * 60;
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
    table(["name", "host", "slots busy/total", "state", "capabilities", "CPU", "memory", "load", "disk free", "GPU",
           "jobs"],
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
  return {job: again, worker: (ev) => { if (ev.event === "heartbeat") beat(ev.worker, again); else again(); },
          scale: again};
});
