// Log in: paste the content of a credential file (`titan keys add NAME --role ROLE` makes one). The role in it
// decides what the dashboard offers; the broker checks every request against it again.
"use strict";
(function () {
  const text = el("textarea", {id: "credential", rows: 8, cols: 70, spellcheck: "false",
                               placeholder: "principal: alice\nrole: operator\npublic_key: ...\nsecret_key: ...\nserver_key: ..."});
  const file = el("input", {type: "file", id: "credential-file", onchange: async () => {
    if (file.files[0]) text.value = await file.files[0].text(); }});
  const form = el("form", {id: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await request("POST", "/api/login", {credential: text.value});
      location.href = "/";
    } catch (err) { banner(String(err.message || err), "error"); }
  }}, el("p", {}, "Choose your credential file, or paste its content:"), file, el("br"), text, el("br"),
     el("button", {type: "submit", text: "Log in"}));
  clear(main()).append(el("h1", {text: "Log in to Titan"}), form,
    el("p", {class: "note", text: "`titan up` prints a one-time link that logs the local admin in."}));
})();
