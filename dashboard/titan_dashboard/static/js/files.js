// Files: the artifact spaces (uploads, perm_files) with name, size, hash and time.
"use strict";
async function load() {
  const r = await api("/api/files");
  const rows = r.files.map(f => el("tr", {}, el("td", {text: f.space}), el("td", {text: f.name}),
    el("td", {text: f.size}), el("td", {class: "hash", text: (f.sha256 || "").slice(0, 12)}),
    el("td", {text: fmtTime(f.created_ms)})));
  clear(main()).append(el("h1", {text: "Files"}), rows.length
    ? table(["space", "name", "bytes", "sha256", "created"], rows, {id: "files"})
    : el("p", {class: "note", text: "No file was uploaded or published yet."}));
}
page(load);
