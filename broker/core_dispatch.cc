// BrokerCore: finding jobs by id and run, and placing queued jobs on workers (Dispatch, with the
// pure PickWorker of broker/dispatch.h).
#include <algorithm>

#include "broker/broker_core.h"
#include "broker/job_demand.h"

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

Resources BrokerCore::Reserved(const Worker& w) const {
  Resources sum;
  for (const std::string& id : w.running) {
    if (const Job* job = Resolve(id); job != nullptr && job->worker == w.name) sum += RequestOf(job->spec);
  }
  return sum;
}

std::vector<WorkerSlot> BrokerCore::WorkerTable(std::vector<Worker*>* refs) const {
  std::vector<WorkerSlot> table;
  for (const auto& [name, w] : workers_) {
    table.push_back(WorkerSlot{.name = w.name,
                               .slots = w.slots,
                               .busy = static_cast<int>(w.running.size()),
                               .capabilities = w.capabilities,
                               .accepting = !w.draining,
                               .controls = w.controls,
                               .runtimes = w.runtimes,
                               .capacity = w.capacity,
                               .reserved = Reserved(w)});
    if (refs != nullptr) refs->push_back(const_cast<Worker*>(&w));
  }
  return table;
}

std::string BrokerCore::PinnedWorker(const Job& job) const {
  return VolumeWorker(job);  // a job using volumes runs only on the worker that holds them (core_volumes.cc)
}

Demand BrokerCore::DemandOf(const Job& job) const {
  Demand d = broker::DemandOf(job);
  d.pinned_worker = PinnedWorker(job);
  return d;
}

std::string BrokerCore::QueuedReason(const Job& job) const {
  if (job.state != JobState::kQueued) return job.reason;
  if (const std::string pinned = VolumeWorker(job);
      !pinned.empty() && (!workers_.count(pinned) || workers_.at(pinned).draining)) {
    return "waiting for worker " + pinned +
           ", which holds its volumes and is not live; start it again (`titan worker --name " + pinned +
           "`) or stop the job";
  }
  const std::string never = WhyNever(DemandOf(job), WorkerTable(nullptr));
  return never.empty() ? job.reason : never;
}

// Assignments per call: bounds one loop turn so heartbeats and replies are never held up for long
// by a huge submission; the rest is dispatched on the next turn, which comes at once.
constexpr int kMaxAssignPerTurn = 2048;
// Per queue and turn, Dispatch looks past at most this many jobs that cannot be placed now, and
// remembers at most kMaxBlockedDemands distinct demands found unplaceable (a later job with one of them
// is skipped without asking PickWorker): a turn costs O(assignments + kLookAhead) per queue, never
// O(queue), however long the queue.
constexpr int kLookAhead = 256;
constexpr size_t kMaxBlockedDemands = 64;
// A job that waits while this many later jobs of its queue were placed past it holds the workers it could
// run on: until it runs, they take no other job of this turn's later queues or later positions, so a
// large request is never starved by a stream of small ones.
constexpr int64_t kMaxPassed = 16;

namespace {

// Free slots among the workers that accept jobs of `requirement`.
int64_t FreeSlots(const std::string& requirement, const std::vector<WorkerSlot>& table) {
  int64_t free = 0;
  for (const WorkerSlot& w : table) {
    if (w.accepting &&
        std::find(w.capabilities.begin(), w.capabilities.end(), requirement) != w.capabilities.end())
      free += std::max(0, w.slots - w.busy);
  }
  return free;
}

}  // namespace

void BrokerCore::Dispatch(Instant now) {
  dispatch_pending_ = false;
  if (read_only_.active()) return;  // an assignment is a journaled transition
  if (std::all_of(ready_.begin(), ready_.end(), [](const auto& q) { return q.second.empty(); })) return;
  std::vector<Worker*> refs;
  std::vector<WorkerSlot> table = WorkerTable(&refs);
  int budget = kMaxAssignPerTurn;
  for (auto& [requirement, queue] : ready_) {
    if (!DispatchQueue(requirement, queue, table, refs, budget, now)) {
      dispatch_pending_ = true;
      return;
    }
  }
}

bool BrokerCore::DispatchQueue(const std::string& requirement, std::set<QueueKey>& queue,
                               std::vector<WorkerSlot>& table, const std::vector<Worker*>& refs, int& budget,
                               Instant now) {
  int64_t free = FreeSlots(requirement, table);
  std::vector<Demand> blocked;  // demands found unplaceable in this turn: their later jobs are skipped
  std::vector<Job*> passed;     // jobs left waiting in this turn, each passed by every later placement
  int looked = 0;
  for (auto it = queue.begin(); it != queue.end() && free > 0 && looked < kLookAhead;) {
    Job* job = Resolve(std::get<2>(*it));
    if (job == nullptr || job->state != JobState::kQueued || job->seq != std::get<1>(*it)) {
      it = queue.erase(it);
      continue;
    }
    const Demand d = DemandOf(*job);
    if (std::find(blocked.begin(), blocked.end(), d) != blocked.end()) {
      ++looked;
      ++it;
      continue;
    }
    Placement p = PickWorker(d, "", table);
    // Its anchor (maybe a journal read) only once it fits somewhere: a job that waits costs no lookup.
    if (p.kind == Placement::kWorker && job->affinity) p = PickWorker(d, AffinityAnchor(*job), table);
    if (p.kind != Placement::kWorker) {
      ++looked;
      ++it;
      blocked.push_back(d);
      if (blocked.size() >= kMaxBlockedDemands) break;
      if (p.kind == Placement::kNever) continue;  // reported by QueuedReason; never holds anything
      if (job->passed < kMaxPassed) {
        passed.push_back(job);
        continue;
      }
      for (WorkerSlot& w : table) {  // held for it: nothing else goes there until it runs
        if (Matches(d, w)) w.accepting = false;
      }
      free = FreeSlots(requirement, table);
      continue;
    }
    if (budget-- == 0) return false;
    for (Job* waiting : passed) ++waiting->passed;
    it = queue.erase(it);
    ++table[p.index].busy;
    table[p.index].reserved += d.request;
    --free;
    Assign(*job, *refs[p.index], now);
  }
  return true;
}

std::vector<Outgoing> BrokerCore::TakeOutbox() {
  FlushAcks();
  std::vector<Outgoing> out;
  out.swap(outbox_);
  return out;
}

}  // namespace titan::broker
