// BrokerCore: DAG records and their status, agent runs, and human-in-the-loop gates.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "broker/broker_core.h"

namespace titan::broker {

namespace {

constexpr int64_t kDefaultMaxWaitS = 172800;  // 48 h, as in the original SDK

void SetParents(Job& job, std::vector<std::string> parents) {
  job.spec.parents = parents;
  job.parents = std::move(parents);
}

}  // namespace

std::optional<Message> BrokerCore::InsertGates(std::vector<Job>& batch) {
  std::map<std::string, std::string> gate_of;  // job id -> its gate id
  std::vector<Job> gates;
  for (const Job& j : batch) {
    const std::string message = j.spec.hitl_message.value_or("");
    if (message.empty()) continue;
    const int64_t max_wait_s = j.spec.max_wait_s.value_or(kDefaultMaxWaitS);
    if (auto refused = OutOfRange(j.id, "max_wait_s", max_wait_s, 1, kMaxWaitS, "a century")) return refused;
    Job g;
    g.id = "hitl-gate-" + j.id;
    if (auto refused = CheckIdFree(g.id, "gate")) return refused;
    g.spec = wire::JobSpec{.id = g.id, .file = "", .parents = std::vector{j.id}, .max_wait_s = max_wait_s};
    ApplySpec(g);
    g.gate = true;
    g.message = message;
    g.dag = j.dag;
    gate_of[j.id] = g.id;
    gates.push_back(std::move(g));
  }
  PointChildrenAtGates(batch, gate_of);
  for (auto& g : gates) batch.push_back(std::move(g));
  return std::nullopt;
}

void BrokerCore::PointChildrenAtGates(std::vector<Job>& batch,
                                      const std::map<std::string, std::string>& gate_of) const {
  // Children wait on the gate of a parent that has one (in this submission or an earlier one).
  for (Job& j : batch) {
    std::vector<std::string> parents = j.parents;
    bool changed = false;
    for (auto& p : parents) {
      auto it = gate_of.find(p);
      const std::string earlier_gate = "hitl-gate-" + p;
      Job scratch;
      if (it != gate_of.end()) {
        p = it->second;
        changed = true;
      } else if (const Job* g = LookUp(earlier_gate, 0, &scratch);
                 g != nullptr && g->gate && GatesRun(*g, p)) {
        p = earlier_gate;
        changed = true;
      }
    }
    if (changed) SetParents(j, std::move(parents));
  }
}

void BrokerCore::OpenGate(Job& gate, Instant now) {
  gate.started_ms = now.wall_ms;
  gate.reason = "waiting for approval: " + gate.message;
  if (!Transition(gate, JobState::kWaitingApproval, now)) return;
  // Its deadline is a wall-clock time, so that it survives a restart (RecoverState arms it the same way).
  ArmWallTimer(TimerKind::kGateExpiry, gate.id, gate.run, AddMs(gate.started_ms, gate.max_wait_ms), now);
}

Message BrokerCore::DecideGate(const wire::GateDecideMsg& req, Instant now, const std::string& principal) {
  Job* gate = Resolve(req.id);
  Job scratch;
  if (const Job* ended = gate == nullptr ? LookUp(req.id, 0, &scratch) : nullptr;
      ended != nullptr && ended->gate)
    return Invalid("gate '" + req.id + "' is " + StateName(ended->state) + "; it was already decided");
  if (gate == nullptr || !gate->gate)
    return Invalid("no gate '" + req.id + "'; gates are named hitl-gate-<job id>");
  if (gate->state != JobState::kWaitingApproval) {
    return Invalid("gate '" + req.id + "' is " + StateName(gate->state) +
                   (IsFinal(gate->state) ? "; it was already decided" : "; its job has not completed yet"));
  }
  const std::string by = req.by.value_or("");
  if (principal.empty()) {
    gate->decided_by = by.empty() ? "unknown" : by;
  } else {
    gate->decided_by = by.empty() || by == principal ? principal : principal + " (as " + by + ")";
  }
  if (req.approve) {
    Finish(*gate, JobState::kCompleted, "approved by " + gate->decided_by, now);
  } else {
    std::string reason = "rejected by " + gate->decided_by;
    if (req.reason) reason += ": " + *req.reason;
    Finish(*gate, JobState::kFailed, reason, now);
  }
  return JobInfoReply(req.id);
}

bool BrokerCore::GatesRun(const Job& gate, const std::string& id) const {
  Job scratch;
  const Job* job = LookUp(id, 0, &scratch);
  if (job == nullptr) return false;
  // A gate read from the journal has no parent runs (derived): it follows the run submitted with it.
  return gate.parent_runs.empty() ? gate.dag == job->dag : gate.parent_runs.front() == job->run;
}

const Job* BrokerCore::DagJob(const Dag& dag, size_t i, Job* scratch) const {
  const int64_t run = i < dag.job_runs.size() ? dag.job_runs[i] : 1;  // DAGs journaled before runs: 1
  if (const Job* job = FindRun(dag.job_ids[i], run)) return job;
  if (dags_.count(dag.id)) return nullptr;  // a DAG in memory holds its jobs in memory
  return LookUp(dag.job_ids[i], run, scratch);
}

std::string BrokerCore::NewDagId(const std::string& name) const {
  // DAG ids stay unique in the journal too, where a DAG that left memory is still found by its id.
  Dag scratch;
  auto taken = [&](const std::string& id) {
    return dags_.count(id) > 0 || LookUpDag(id, &scratch) != nullptr;
  };
  if (!taken(name)) return name;
  for (int n = 2;; ++n) {
    const std::string id = name + "#" + std::to_string(n);
    if (!taken(id)) return id;
  }
}

wire::DagInfo BrokerCore::RenderGroup(const std::string& id, const std::string& name, const std::string& run,
                                      const std::vector<const Dag*>& dags) const {
  wire::DagInfo info{.id = id, .name = name};
  int64_t hard_failed = 0, submitted = INT64_MAX, finished = 0;
  for (const Dag* d : dags) {
    submitted = std::min(submitted, d->submitted_ms);
    for (size_t i = 0; i < d->job_ids.size(); ++i) {
      Job scratch;
      const Job* j = DagJob(*d, i, &scratch);
      if (j == nullptr) continue;
      ++info.jobs;
      if (DoneForDag(*j)) {  // a service that is up: the DAG does not wait for it to end
        ++info.done;
        finished = std::max(finished, j->up_since_ms);
        continue;
      }
      if (!IsFinal(j->state)) continue;
      ++info.done;
      finished = std::max(finished, j->finished_ms);
      if (j->state == JobState::kFailed || j->state == JobState::kDead) ++hard_failed;
      if (j->state != JobState::kCompleted) ++info.failed;
    }
  }
  // A DAG fails when a job failed (a rejected gate counts); it is cancelled when jobs were stopped and
  // the rest skipped because of that; otherwise it completed.
  info.state = info.done < info.jobs ? "RUNNING"
               : hard_failed > 0     ? "FAILED"
               : info.failed > 0     ? "CANCELLED"
                                     : "COMPLETED";
  if (!run.empty()) info.agent_run_id = run;
  info.submitted_ms = submitted == INT64_MAX ? 0 : submitted;
  if (info.done == info.jobs && info.jobs > 0) info.finished_ms = finished;
  return info;
}

wire::DagInfo BrokerCore::RenderDag(const Dag& dag) const {
  return RenderGroup(dag.id, dag.name, dag.agent_run_id, {&dag});
}

Message BrokerCore::DagList(const wire::DagListMsg& req) const {
  const std::string run = req.agent_run_id.value_or("");
  const size_t limit = static_cast<size_t>(std::clamp<int64_t>(req.limit, 1, 10000));
  wire::DagListReplyMsg reply;
  for (auto it = dag_order_.rbegin(); it != dag_order_.rend() && reply.dags.size() < limit; ++it) {
    auto found = dags_.find(*it);
    if (found == dags_.end()) continue;  // left memory (retention): DAG_GET finds it in the journal
    const Dag& d = found->second;
    if (!run.empty() && d.agent_run_id != run) continue;
    reply.dags.push_back(RenderDag(d));
  }
  return std::move(reply).ToMessage();
}

Message BrokerCore::DagGet(const std::string& id) const {
  Dag scratch;
  const Dag* dag = LookUpDag(id, &scratch);
  wire::DagInfoMsg reply{.found = dag != nullptr};
  if (dag != nullptr) {
    reply.dag = RenderDag(*dag);
    for (size_t i = 0; i < dag->job_ids.size(); ++i) {
      Job job;
      if (const Job* j = DagJob(*dag, i, &job)) reply.jobs.push_back(RenderJobInfo(*j));
    }
  }
  return std::move(reply).ToMessage();
}

Message BrokerCore::DagCancel(const std::string& id, Instant now) {
  auto it = dags_.find(id);
  Dag scratch;
  if (it == dags_.end() && LookUpDag(id, &scratch) != nullptr) return DagGet(id);  // ended, left memory
  if (it == dags_.end()) return Invalid("no DAG '" + id + "'; see `titan dags`");
  for (size_t i = 0; i < it->second.job_ids.size(); ++i) {
    Job unused;
    const Job* j = DagJob(it->second, i, &unused);
    // Only this DAG's run of each job: a later run of a reused id belongs to another DAG.
    if (j != nullptr && !IsFinal(j->state) && j == Resolve(j->id)) Stop(j->id, now);
  }
  return DagGet(id);
}

Message BrokerCore::RunList(const wire::RunListMsg& req) const {
  std::map<std::string, std::vector<const Dag*>> runs;
  std::vector<std::string> order;  // newest run first, by its latest DAG
  for (auto it = dag_order_.rbegin(); it != dag_order_.rend(); ++it) {
    auto found = dags_.find(*it);
    if (found == dags_.end()) continue;  // left memory (retention)
    const Dag& d = found->second;
    if (d.agent_run_id.empty()) continue;
    if (!runs.count(d.agent_run_id)) order.push_back(d.agent_run_id);
    runs[d.agent_run_id].push_back(&d);
  }
  const size_t limit = static_cast<size_t>(std::clamp<int64_t>(req.limit, 1, 10000));
  wire::RunListReplyMsg reply;
  for (const auto& run : order) {
    if (reply.runs.size() == limit) break;
    reply.runs.push_back(RenderGroup(run, run, run, runs[run]));
  }
  return std::move(reply).ToMessage();
}

}  // namespace titan::broker
