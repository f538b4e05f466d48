// Events: the live feed of job transitions, worker joins and losses, and scaling decisions, newest first.
// Heartbeats are counted, not listed (one per worker per second would bury the rest).
"use strict";
const MAX_ROWS = 500;
let heartbeats = 0;

function addRow(kind, subject, what, detail) {
  const body = document.querySelector("#events tbody");
  body.prepend(el("tr", {class: "ev-" + kind}, el("td", {text: new Date().toLocaleTimeString()}),
                  el("td", {text: kind}), el("td", {}, subject), el("td", {text: what}), el("td", {text: detail || ""})));
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
}

async function load() {
  clear(main()).append(el("h1", {text: "Events"}), el("p", {class: "note", id: "heartbeats", text: "live"}),
                       table(["time", "kind", "subject", "what", "detail"], [], {id: "events"}));
}

page(load, () => ({
  job: (ev) => addRow("job", jobLink(ev.id), ev.state, [ev.worker, ev.reason].filter(Boolean).join(" · ")),
  worker: (ev) => {
    if (ev.event === "heartbeat") {
      heartbeats += 1;
      document.getElementById("heartbeats").textContent = "live · " + heartbeats + " worker heartbeats";
      return;
    }
    addRow("worker", ev.worker.name, ev.event, ev.worker.host);
  },
  scale: (ev) => addRow("scale", ev.worker, ev.action, ev.reason),
  back: () => addRow("broker", "broker", "back", ""),
  resync: () => addRow("feed", "dashboard", "fell behind; some events were skipped", ""),
  missed: () => {},  // the feed starts when the page opens: nothing before it is owed
}));
