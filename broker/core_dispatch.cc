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
  if (const std::string pinned = job.state == JobState::kQueued ? VolumeWorker(job) : "";
      !pinned.empty() && (!workers_.count(pinned) || workers_.at(pinned).draining)) {
    return "waiting for worker " + pinned +
           ", which holds its volumes and is not live; start it again "
           "(`titan worker --name " +
           pinned + "`) or stop the job";
  }
  if (job.state == JobState::kQueued && !AnyWorkerCan(job.requirement)) {
    return "no live worker has capability " + job.requirement + "; start one with `titan worker --tag " +
           job.requirement + "`";
  }
  return job.reason;
}

namespace {

// `table` with every worker but `name` not accepting (a job pinned to that worker by its volumes).
std::vector<WorkerSlot> PinnedTo(std::vector<WorkerSlot> table, const std::string& name) {
  for (WorkerSlot& w : table) w.accepting = w.accepting && w.name == name;
  return table;
}

}  // namespace

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
    for (auto next = queue.begin(); next != queue.end();) {
      const std::string id = std::get<2>(*next);
      Job* job = Resolve(id);
      if (job == nullptr || job->state != JobState::kQueued || job->seq != std::get<1>(*next)) {
        next = queue.erase(next);
        continue;
      }
      const std::string affinity = AffinityAnchor(*job);
      // A job using volumes runs only on the worker that holds them (core_volumes.cc): the others are
      // not candidates for it, and while that worker is full or away it waits without holding up the rest.
      const std::string pinned = VolumeWorker(*job);
      const Placement p = PickWorker(requirement, affinity, pinned.empty() ? table : PinnedTo(table, pinned));
      if (p.kind != Placement::kWorker) {
        if (!pinned.empty()) {
          ++next;
          continue;
        }
        break;  // the same holds for every job of this requirement
      }
      if (budget-- == 0) {
        dispatch_pending_ = true;
        return;
      }
      next = queue.erase(next);
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
