// BrokerCore: DAG_RERUN, a finished DAG's jobs submitted again as a new DAG of the same name. Each job id
// starts its next run (docs/protocol.md, runs of a reused id) with the spec and file content it ran with;
// gates come back from their job's hitl_message. The submission is an ordinary JOB_SUBMIT from there on.
#include <set>

#include "artifacts/artifact_name.h"
#include "broker/broker_core.h"

namespace titan::broker {

Message BrokerCore::DagRerun(const std::string& id, const std::optional<std::string>& token, Instant now) {
  if (token) {  // an answered rerun, asked again: the DAG is no longer the latest run of its jobs
    if (auto replay = Replay(*token, nullptr)) return *replay;
  }
  Dag dag_scratch;
  const Dag* found = LookUpDag(id, &dag_scratch);  // a finished DAG may be in the journal only (retention)
  if (found == nullptr) return Invalid("no DAG '" + id + "'; see `titan dags`");
  const Dag& dag = *found;
  wire::JobSubmitMsg submit{.dag = dag.name, .token = token};
  if (!dag.agent_run_id.empty()) submit.agent_run_id = dag.agent_run_id;
  std::set<std::string> sent;  // file names already in submit.files
  for (size_t i = 0; i < dag.job_ids.size(); ++i) {
    Job job_scratch, latest_scratch;
    const Job* job = LookUp(dag.job_ids[i], dag.job_runs[i], &job_scratch);
    if (job == nullptr) return Invalid("DAG '" + id + "' names job '" + dag.job_ids[i] + "', which is gone");
    if (!IsFinal(job->state)) {
      return Invalid("DAG '" + id + "' has not finished (job '" + job->id + "' is " + StateName(job->state) +
                     "); wait for it, or cancel it with `titan dag-cancel " + id + "`, then re-run it");
    }
    if (const Job* latest = LookUp(job->id, 0, &latest_scratch);
        latest != nullptr && latest->run != job->run) {
      return Invalid("job '" + job->id + "' of DAG '" + id +
                     "' was submitted again since; re-run its latest DAG");
    }
    if (job->gate) continue;  // InsertGates makes it again from its job's hitl_message
    submit.jobs.push_back(job->spec);
    std::string name = job->file;
    if (job->spec.archive.value_or(false)) {
      if (auto split = artifacts::SplitArchivePath(job->file)) name = split->archive;
    }
    // The content it ran, when this broker still has it; else what is deployed under its name now.
    if (files_.count(job->file_hash) && sent.insert(name).second) {
      submit.files.push_back(wire::FileBlob{.name = name, .sha256 = job->file_hash});
    }
  }
  return Submit(submit, now);
}

}  // namespace titan::broker
