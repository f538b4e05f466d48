// Files: the artifact spaces (uploads, perm_files) with name, size, hash and time; each file downloads, and a
// role that may submit uploads a script (to perm_files, where jobs find it by name, or to uploads).
"use strict";
function fileUrl(f) {
  return "/api/files/" + encodeURIComponent(f.space) + "/" + f.name.split("/").map(encodeURIComponent).join("/");
}

// Sends the chosen file's bytes as they are (no form encoding), with the session's CSRF token.
async function uploadFile(file, space, name) {
  const resp = await fetch("/api/files/upload?" + new URLSearchParams({space, name}), {
    method: "POST", credentials: "same-origin", body: file,
    headers: {"Accept": "application/json", "Content-Type": "application/octet-stream",
              "X-CSRF-Token": T.me ? T.me.csrf : ""}});
  let data = null;
  try { data = await resp.json(); } catch (e) { data = {error: "the dashboard answered " + resp.status}; }
  if (!resp.ok) { const err = new Error(data.error || resp.statusText); err.status = resp.status; throw err; }
  return data;
}

function uploadForm() {
  if (!can("submit")) return null;
  const input = el("input", {type: "file", id: "upload-file"});
  const space = el("select", {id: "upload-space"}, el("option", {value: "perm_files", text: "perm_files (scripts)"}),
                   el("option", {value: "uploads", text: "uploads"}));
  const name = el("input", {id: "upload-name", placeholder: "name (default: the file's)"});
  return el("section", {id: "upload"}, el("h2", {text: "Upload a script"}), input, space, name,
    actionButton("Upload", "upload", async () => {
      const file = input.files[0];
      if (!file) throw new Error("choose a file to upload first");
      const r = await uploadFile(file, space.value, name.value.trim() || file.name);
      banner("uploaded " + r.file.space + "/" + r.file.name + " (" + r.file.size + " bytes)", "ok");
      await load();
    }, "submit"));
}

async function load() {
  const r = await api("/api/files");
  const rows = r.files.map(f => el("tr", {"data-file": f.space + "/" + f.name}, el("td", {text: f.space}),
    el("td", {}, el("a", {class: "download", href: fileUrl(f), download: f.name.split("/").pop(), text: f.name})),
    el("td", {text: f.size}), el("td", {class: "hash", text: (f.sha256 || "").slice(0, 12)}),
    el("td", {text: fmtTime(f.created_ms)})));
  clear(main()).append(el("h1", {text: "Files"}), uploadForm() || "", rows.length
    ? table(["space", "name", "bytes", "sha256", "created"], rows, {id: "files"})
    : el("p", {class: "note", text: "No file was uploaded or published yet."}));
}
page(load);
