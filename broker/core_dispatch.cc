// BrokerCore: finding jobs by id and run, and placing queued jobs on workers (Dispatch, with the
// pure PickWorker of broker/dispatch.h).
#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {

Job* BrokerCore::Resolve(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() && id.rfind("DAG-", 0) == 0) it = jobs_.find(id.substr(4));
  return it == jobs_.end() ? nullptr : &it->second;
}

const Job* BrokerCore::Resolve(const std::string& id) const {
  return const_cast<BrokerCore*>(this)->Resolve(id);
}

const Job* BrokerCore::FindJob(const std::string& id) const { return Resolve(id); }

std::vector<std::string> BrokerCore::RunningJobIds() const {
  std::vector<std::string> ids;
  for (const auto& [id, job] : jobs_) {
    if (job.state == JobState::kRunning) ids.push_back(id);
  }
  return ids;
}

Job* BrokerCore::FindRun(const std::string& id, int64_t run) {
  auto latest = jobs_.find(id);
  if (latest != jobs_.end() && latest->second.run == run) return &latest->second;
  auto earlier = history_.find(id);
  if (earlier == history_.end()) return nullptr;
  auto it = earlier->second.find(run);
  return it == earlier->second.end() ? nullptr : &it->second;
}

const Job* BrokerCore::FindRun(const std::string& id, int64_t run) const {
  return const_cast<BrokerCore*>(this)->FindRun(id, run);
}

bool BrokerCore::DoneForDag(const Job& job) {
  return job.service && job.released && job.state == JobState::kRunning;
}

std::string BrokerCore::AffinityAnchor(const Job& job) const {
  if (!job.affinity) return {};
  Job scratch;  // a parent or submitter that ended and left memory is read from the journal
  if (!job.parents.empty()) {
    const int64_t run = job.parent_runs.empty() ? 0 : job.parent_runs.front();
    const Job* parent = run > 0 ? LookUp(job.parents.front(), run, &scratch) : nullptr;
    return parent != nullptr ? parent->worker : std::string();
  }
  // A sub-task spawned by a running job (seed 004: "placed on the same node"): its submitter's worker.
  const Job* spawner = job.spawned_by.empty() ? nullptr : LookUp(job.spawned_by, 0, &scratch);
  return spawner != nullptr ? spawner->worker : std::string();
}

bool BrokerCore::InDag(const Job& job) const {
  if (!job.parents.empty()) return true;
  auto dag = dags_.find(job.dag);
  return dag != dags_.end() && dag->second.job_ids.size() > 1;
}

bool BrokerCore::AnyWorkerCan(const std::string& requirement) const {
  for (const auto& [name, w] : workers_) {
    if (!w.draining &&
        std::find(w.capabilities.begin(), w.capabilities.end(), requirement) != w.capabilities.end()) {
      return true;
    }
  }
  return false;
}

std::string BrokerCore::QueuedReason(const Job& job) const {
  if (job.state == JobState::kQueued && !AnyWorkerCan(job.requirement)) {
    return "no live worker has capability " + job.requirement + "; start one with `titan worker --tag " +
           job.requirement + "`";
  }
  return job.reason;
}

// Assignments per call: bounds one loop turn so heartbeats and replies are never held up for long
// by a huge submission; the rest is dispatched on the next turn, which comes at once.
constexpr int kMaxAssignPerTurn = 2048;

void BrokerCore::Dispatch(Instant now) {
  dispatch_pending_ = false;
  if (read_only_.active()) return;  // an assignment is a journaled transition
  int budget = kMaxAssignPerTurn;
  std::vector<WorkerSlot> table;
  std::vector<Worker*> refs;
  for (auto& [name, w] : workers_) {
    table.push_back(
        WorkerSlot{w.name, w.slots, static_cast<int>(w.running.size()), w.capabilities, !w.draining});
    refs.push_back(&w);
  }
  for (auto& [requirement, queue] : ready_) {
    while (!queue.empty()) {
      const std::string id = std::get<2>(*queue.begin());
      Job* job = Resolve(id);
      if (job == nullptr || job->state != JobState::kQueued || job->seq != std::get<1>(*queue.begin())) {
        queue.erase(queue.begin());
        continue;
      }
      const std::string affinity = AffinityAnchor(*job);
      const Placement p = PickWorker(requirement, affinity, table);
      if (p.kind != Placement::kWorker) break;  // the same holds for every job of this requirement
      if (budget-- == 0) {
        dispatch_pending_ = true;
        return;
      }
      queue.erase(queue.begin());
      ++table[p.index].busy;
      Assign(*job, *refs[p.index], now);
    }
  }
}

std::vector<Outgoing> BrokerCore::TakeOutbox() {
  std::vector<Outgoing> out;
  out.swap(outbox_);
  return out;
}

}  // namespace titan::broker
