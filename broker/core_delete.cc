// BrokerCore: JOB_DELETE (Joblet's delete_job). A finished job leaves the broker whole: every run of
// its id, from memory, the journal (its rows and its submission's DAG row) and the log store, in the
// turn's transaction, so the OK is sent only once the deletion is durable. Only a job submitted on its
// own is deleted: the jobs of a DAG share its record (DAG views, reruns), so they go only with it, by
// journal retention.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {

Message BrokerCore::DeleteJob(const std::string& id) {
  Job latest_scratch;
  const Job* latest = LookUp(id, 0, &latest_scratch);
  if (latest == nullptr) return Invalid("no job '" + id + "'; see `titan jobs`");
  const std::string name = latest->id;  // a "DAG-" prefix resolved
  struct Doomed {
    int64_t seq, run;
    JobState state;
    std::string dag;
  };
  std::vector<Doomed> runs;
  for (int64_t run = latest->run; run >= 1; --run) {
    Job scratch;
    const Job* job = run == latest->run ? latest : LookUp(name, run, &scratch);
    if (job == nullptr) continue;  // an earlier run already deleted by journal retention
    if (!IsFinal(job->state)) {
      return Invalid("job " + name + " is " + StateName(job->state) + ": stop it first (`titan stop " + name +
                     "`), then delete it");
    }
    Dag dag_scratch;
    const Dag* dag = LookUpDag(job->dag, &dag_scratch);
    if (dag != nullptr && dag->job_ids.size() > 1) {
      return Invalid("job " + name + " was submitted with " + std::to_string(dag->job_ids.size() - 1) +
                     " other jobs as DAG " + dag->id +
                     "; a job of a DAG is not deleted alone (journal retention removes whole DAGs)");
    }
    runs.push_back(Doomed{job->seq, job->run, job->state, job->dag});
  }
  for (const Doomed& d : runs) {
    if (dags_.count(d.dag) != 0) {  // still in memory: it leaves as retention would take it
      const auto queued =
          std::find_if(finished_.begin(), finished_.end(), [&](const Finished& f) { return f.dag == d.dag; });
      if (queued != finished_.end()) {
        finished_jobs_ -= queued->jobs;
        finished_.erase(queued);
      }
      EvictDag(d.dag);
      --evicted_;  // deleted, not evicted
    }
  }
  Status s = journal_->BeginIfNeeded();
  for (const Doomed& d : runs) {
    if (s.ok()) s = journal_->DeleteJobs(d.seq, d.seq);
    if (s.ok()) s = journal_->DeleteDag(d.dag);
  }
  if (!s.ok()) {
    spdlog::error("broker: cannot delete job {} from the journal: {}", name, s.message());
    JournalFailed(s);  // the turn is rolled back (a full disk: refused as such)
    return wire::MakeError(ErrorCode::kUnavailable, "cannot delete job " + name + ": " + s.message());
  }
  for (const Doomed& d : runs) {
    logs_->Remove(LogName(name, d.run));
    --counts_[static_cast<int>(d.state)];
  }
  spdlog::info("broker: job {} deleted ({} run{})", name, runs.size(), runs.size() == 1 ? "" : "s");
  return wire::OkMsg{}.ToMessage();
}

}  // namespace titan::broker
