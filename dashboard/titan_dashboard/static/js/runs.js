// Agent runs: DAGs grouped by agent_run_id, each run with its stages (DAGs) in order and their state.
"use strict";
async function load() {
  const r = await api("/api/runs");
  const m = clear(main());
  m.append(el("h1", {text: "Agent runs"}));
  if (!r.runs.length) m.append(el("p", {class: "note", text: "No DAG was submitted with an agent_run_id."}));
  for (const run of r.runs) {
    m.append(el("section", {class: "run", "data-run": run.id},
      el("h2", {}, run.id + " ", badge(run.state)),
      el("p", {class: "note", text: run.done + "/" + run.jobs + " jobs done · started " + fmtTime(run.submitted_ms)}),
      el("ol", {class: "stages"}, run.stages.map(d => el("li", {}, dagLink(d.id), " ", badge(d.state),
                                                      " " + d.done + "/" + d.jobs)))));
  }
}
page(load, (reload) => ({job: debounce(reload, 2000)}));
