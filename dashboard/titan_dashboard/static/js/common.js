// What every page shares: DOM building with textContent only (no data is ever parsed as HTML), the API calls
// (an action carries the session's CSRF token), the live feed (Server-Sent Events) and the broker banner.
"use strict";
const T = {me: null, source: null, streams: new Set()};
// A browser holds at most 6 connections to one host: a page left for another (or kept in the back-forward
// cache) must give its live streams back, or the next pages wait for a free connection.
window.addEventListener("pagehide", () => { for (const s of T.streams) s.close(); T.streams.clear(); });
function openStream(params) {
  const src = new EventSource("/api/stream" + (params ? "?" + new URLSearchParams(params) : ""));
  T.streams.add(src);
  return src;
}
function closeStream(src) { if (src) { src.close(); T.streams.delete(src); } }
const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "DEAD", "SKIPPED"]);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = String(v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
function main() { return document.getElementById("main"); }
function pathId(prefix) { return decodeURIComponent(location.pathname.slice(prefix.length)); }
function jobLink(id) { return el("a", {href: "/jobs/" + encodeURIComponent(id), text: id}); }
function dagLink(id) { return el("a", {href: "/dags/" + encodeURIComponent(id), text: id}); }
function badge(state) { return el("span", {class: "state s-" + String(state).toLowerCase(), text: state}); }
function fmtTime(ms) { return ms ? new Date(ms).toLocaleString() : "—"; }
function fmtDur(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}
// Time as the dashboard server tells it, never this browser's clock, which may be wrong: the server's now
// (/api/me's now_ms) moved on by this page's monotonic clock (performance.now()).
function serverNow() { return T.me ? T.me.now_ms + (performance.now() - T.meAt) : Date.now(); }
// A gate's time left before it fails undecided, as text kept current by the page's monotonic clock (no request
// is made): "expires in 47 h 59 min", "expired". `expiresInMs` is the time left the API reported (by the
// server's clock); the broker's clock decides, this one only counts down.
function timeLeftText(deadline) {
  const left = deadline - performance.now();
  return left > 0 ? "expires in " + fmtDur(left) : "expired";
}
function timeLeft(expiresInMs) {
  if (expiresInMs === null || expiresInMs === undefined) return el("span", {class: "expires", text: "no expiry"});
  const deadline = performance.now() + expiresInMs;
  return el("span", {class: "expires", "data-deadline": deadline, text: timeLeftText(deadline)});
}
setInterval(() => {
  for (const e of document.querySelectorAll("[data-deadline]")) {
    e.textContent = timeLeftText(Number(e.dataset.deadline));
  }
}, 1000);
// A gate's reason box. What was typed in it survives the page drawing itself again meanwhile (a live update).
const typedReasons = new Map();
function reasonInput(gateId) {
  const remember = (ev) => typedReasons.set(gateId, ev.target.value);
  return el("input", {class: "reason", placeholder: "reason (required to reject)",
                      value: typedReasons.get(gateId) || "", oninput: remember});
}
function jobDuration(j) {
  if (!j.started_ms) return "—";
  return fmtDur((j.finished_ms || serverNow()) - j.started_ms);
}
function debounce(fn, ms) {
  let timer = null;
  return (...args) => { if (!timer) timer = setTimeout(() => { timer = null; fn(...args); }, ms); };
}
function can(permission) { return !!(T.me && T.me.can[permission]); }

function banner(text, kind) {
  const b = document.getElementById("banner");
  if (!text) { b.hidden = true; clear(b); return; }
  b.className = kind || "warn";
  b.hidden = false;
  clear(b).append(text);
}

function brokerDown(reason) {
  banner("broker unavailable: " + (reason || "it does not answer") + " — this page updates once it is back", "down");
}

// The broker's read-only mode (its disk is full: it refuses new work and actions, and serves reads): a banner of
// its own, on every page, until the broker can write again. `state`: {reason, since_ms}, or null.
function readOnly(state) {
  const b = document.getElementById("read-only");
  if (!state) { b.hidden = true; clear(b); return; }
  b.hidden = false;
  clear(b).append(el("b", {text: "The broker is read-only"}),
                  " since " + fmtTime(state.since_ms) + ": it refuses new work and actions until it can write again. ",
                  el("span", {class: "reason", text: state.reason}));
}

async function request(method, path, body) {
  const opts = {method, headers: {"Accept": "application/json"}, credentials: "same-origin"};
  if (method !== "GET") {
    opts.headers["Content-Type"] = "application/json";
    opts.headers["X-CSRF-Token"] = T.me ? T.me.csrf : "";
    opts.body = JSON.stringify(body || {});
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = {error: "the dashboard answered " + resp.status}; }
  if (resp.status === 401 && path !== "/api/login") { location.href = "/login"; throw new Error(data.error); }
  if (resp.status === 503 && data.broker_down) brokerDown(data.error);
  if (!resp.ok) {
    const err = new Error(data.error || resp.statusText);
    err.status = resp.status;
    err.brokerDown = !!data.broker_down;
    throw err;
  }
  return data;
}
const api = (path) => request("GET", path);
const post = (path, body) => request("POST", path, body);

// An action's failure in the banner, with what the server or the broker said (a read-only broker's UNAVAILABLE
// too); nothing when the broker does not answer, which the banner says already.
function showError(err) {
  if (err.brokerDown) return;
  banner(String(err.message || err), "error");
}

// A button that acts (shown only to roles that may: the server refuses the others anyway).
function actionButton(label, action, run, permission) {
  if (!can(permission || "operate")) return null;
  return el("button", {"data-action": action, text: label, onclick: async (ev) => {
    ev.target.disabled = true;
    try { await run(); } catch (err) { showError(err); } finally { ev.target.disabled = false; }
  }});
}

function table(headers, rows, attrs) {
  return el("table", attrs || {}, el("thead", {}, el("tr", {}, headers.map(h => el("th", {text: h})))),
            el("tbody", {}, rows));
}

// The live feed: `handlers` by event type (job, worker, scale, log, resync), `back` (the broker is back) and
// `missed` (job events went by before the feed began); the read-only banner follows "readonly" by itself.
// `params` for the stream.
function live(handlers, params) {
  closeStream(T.source);
  const src = openStream(params);
  T.source = src;
  let wasDown = false;
  // Job events this page's data accounts for: those before it loaded (/api/me), then each one the feed brings.
  // A feed that (re)connects says how many came before it began; a different count means some were missed
  // (between the page's load and its feed, or while reconnecting): handlers.missed, else handlers.resync.
  let jobEvents = T.me ? T.me.job_events : undefined;
  src.addEventListener("job", () => { if (jobEvents !== undefined) jobEvents++; });
  for (const kind of ["job", "worker", "scale", "log", "resync"]) {
    src.addEventListener(kind, (m) => { if (handlers[kind]) handlers[kind](JSON.parse(m.data)); });
  }
  src.addEventListener("readonly", (m) => readOnly(JSON.parse(m.data).read_only));
  src.addEventListener("broker", (m) => {
    const st = JSON.parse(m.data);
    if (st.job_events !== undefined) {
      const missed = handlers.missed || handlers.resync;
      if (jobEvents !== undefined && st.job_events !== jobEvents && missed) missed();
      jobEvents = st.job_events;
    }
    if (st.up === false) { wasDown = true; brokerDown(st.reason); }
    else if (st.up && wasDown) { wasDown = false; banner(null); if (handlers.back) handlers.back(); }
  });
  return src;
}

// A log panel: the tail (a link to the whole file when it is cut), then live output until the job ends.
async function followLog(jobId, container) {
  clear(container);
  const base = "/api/jobs/" + encodeURIComponent(jobId);
  const note = el("p", {class: "note"});
  const pre = el("pre", {id: "log", class: "log"});
  container.append(note, pre,
                   el("p", {}, el("a", {href: base + "/log.txt", id: "log-download", text: "download the whole log"})));
  const first = await api(base + "/log");
  pre.textContent = first.text;
  if (first.truncated) note.textContent = "Showing the last " + (first.next_offset - first.start) + " bytes of " +
                                          first.next_offset + ".";
  if (first.complete) return null;
  const follow = (chunk) => {
    if (!chunk.text) return;
    const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(document.createTextNode(chunk.text));
    if (atEnd) pre.scrollTop = pre.scrollHeight;
  };
  return {params: {log: jobId, from: first.next_offset}, log: follow};
}

async function loadMe() {
  T.me = await api("/api/me");
  T.meAt = performance.now();
  const who = document.getElementById("who");
  clear(who).append(el("span", {class: "principal", text: T.me.principal + " (" + T.me.role + ")"}),
                    el("button", {class: "link", text: "log out", onclick: async () => {
                      await post("/api/logout"); location.href = "/login"; }}));
  if (T.me.broker.up === false) brokerDown(T.me.broker.reason);
  readOnly(T.me.broker.read_only);
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.getAttribute("href") === location.pathname ||
        (a.getAttribute("href") !== "/" && location.pathname.startsWith(a.getAttribute("href"))))
      a.classList.add("here");
  }
}

// Runs a page: `load` builds it (again when the broker is back); `feed` returns its live handlers.
async function page(load, feed) {
  try { await loadMe(); } catch (err) { showError(err); return; }
  const reload = async () => { try { await load(); } catch (err) { showError(err); } };
  await reload();
  const handlers = feed ? await feed(reload) : {};
  live(Object.assign({back: reload, resync: reload}, handlers.handlers || handlers), handlers.params);
}
