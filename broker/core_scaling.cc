// BrokerCore: auto-scaling. Every half second, when a policy is set, DecideScaling looks at the
// worker table and the queue; the core sends WORKER_SPAWN / WORKER_DRAIN and publishes each decision
// (EVENT_SCALE, also kept for STATS). And WORKER_ADD (the original's `deploy Worker.jar PORT`): a worker
// on the broker's machine starts a child worker named worker-<PORT>, which auto-scaling never retires.
#include <spdlog/spdlog.h>

#include "broker/broker_core.h"

namespace titan::broker {

namespace {
constexpr int64_t kScaleEveryMs = 500;
constexpr size_t kScaleEventsKept = 50;
constexpr int64_t kAddedWorkerSlots = 4;  // the original's default worker concurrency
}  // namespace

void BrokerCore::Autoscale(Instant now) {
  next_scale_check_ = now.mono_ms + kScaleEveryMs;
  if (read_only_.active()) return;  // nothing is dispatched: the queues' waits mean nothing
  const ScalePolicy& policy = config_.scaling;
  std::erase_if(scale_pending_, [&](const ScalePending& p) {
    if (now.mono_ms - p.requested_at < policy.spawn_timeout_ms) return false;
    spdlog::warn("broker: child worker {} asked of {} never joined; giving up on it", p.child, p.parent);
    return true;
  });
  for (const ScaleAction& a :
       DecideScaling(policy, ScaleWorkers(), ScaleWaits(), scale_pending_, now.mono_ms, next_child_)) {
    CarryOutScaling(a, now);
  }
}

std::vector<ScaleWorker> BrokerCore::ScaleWorkers() const {
  std::vector<ScaleWorker> workers;
  for (const auto& [name, w] : workers_) {
    workers.push_back(ScaleWorker{w.name, w.parent, w.capabilities, w.slots,
                                  static_cast<int>(w.running.size()), w.draining,
                                  w.running.empty() ? w.idle_since : 0, /*manual=*/w.port > 0});
  }
  return workers;
}

std::vector<ScaleWait> BrokerCore::ScaleWaits() const {
  std::vector<ScaleWait> waits;
  for (const auto& [requirement, queue] : ready_) {
    int64_t oldest = 0;
    for (const auto& key : queue) {
      const Job* job = Resolve(std::get<2>(key));
      if (job != nullptr && (oldest == 0 || job->queued_at < oldest)) oldest = job->queued_at;
    }
    if (oldest > 0) waits.push_back(ScaleWait{requirement, oldest});
  }
  std::sort(waits.begin(), waits.end(),
            [](const ScaleWait& a, const ScaleWait& b) { return a.queued_at < b.queued_at; });
  return waits;
}

void BrokerCore::CarryOutScaling(const ScaleAction& a, Instant now) {
  if (a.kind == ScaleAction::kSpawn) {
    auto parent = workers_.find(a.parent);
    if (parent == workers_.end()) return;
    ++next_child_;
    scale_pending_.push_back(ScalePending{a.parent, a.worker, now.mono_ms});
    SendWorker(parent->second,
               wire::WorkerSpawnMsg{.name = a.worker, .slots = a.slots, .reason = a.reason}.ToMessage());
    return RecordScaling("spawn", a, now);
  }
  auto child = workers_.find(a.worker);
  if (child == workers_.end()) return;
  child->second.draining = true;
  SendWorker(child->second, wire::WorkerDrainMsg{.reason = "auto-scaling: " + a.reason}.ToMessage());
  PublishWorker(child->second, "draining", now);
  RecordScaling("retire", a, now);
}

Message BrokerCore::AddWorker(const wire::WorkerAddMsg& req, Instant now) {
  const int64_t port = req.port.value_or(0);
  if (port < 1 || port > 65535)
    return Invalid("WORKER_ADD needs the new worker's port (1..65535): `titan deploy Worker.jar PORT`");
  const std::string name = "worker-" + std::to_string(port);
  for (const auto& [other, w] : workers_) {
    if (other == name || w.port == port) {
      return Invalid("worker " + other + " already has port " + std::to_string(port) +
                     "; choose another port, or retire it first with `titan shutdown HOST " +
                     std::to_string(port) + "`");
    }
  }
  if (std::any_of(scale_pending_.begin(), scale_pending_.end(),
                  [&](const auto& p) { return p.child == name; }))
    return Invalid("worker " + name + " is being started already; `titan stats` lists it once it has joined");
  // Who starts it: a live worker on this machine that is not draining and not an auto-scaled child (which
  // may be retired, ending its own children); one started by hand before one started by a worker.
  const Worker* parent = nullptr;
  for (const auto& [n, w] : workers_) {
    if (w.draining || w.host != config_.host || (!w.parent.empty() && w.port == 0)) continue;
    if (parent == nullptr || (!w.parent.empty()) < (!parent->parent.empty())) parent = &w;
  }
  if (parent == nullptr) {
    return Invalid("no worker runs on the broker's machine (" + config_.host +
                   ") to start it; start one there with `titan worker`");
  }
  wire::WorkerSpawnMsg spawn{.name = name,
                             .slots = std::clamp<int64_t>(req.slots.value_or(kAddedWorkerSlots), 1, 1024),
                             .reason = "an operator asked for a worker with port " + std::to_string(port),
                             .port = port,
                             .manual = true};
  if (req.capability) spawn.tags = std::vector{*req.capability};
  SendWorker(*parent, std::move(spawn).ToMessage());
  scale_pending_.push_back(ScalePending{parent->name, name, now.mono_ms});
  spdlog::info("broker: worker {} asked to start worker {} (port {})", parent->name, name, port);
  return wire::OkMsg{.name = name}.ToMessage();
}

void BrokerCore::RecordScaling(const char* action, const ScaleAction& a, Instant now) {
  spdlog::info("broker: auto-scaling: {} {} on {} ({})", action, a.worker, a.parent, a.reason);
  wire::ScaleEvent event{
      .action = action, .worker = a.worker, .parent = a.parent, .reason = a.reason, .ts_ms = now.wall_ms};
  scale_events_.push_back(event);
  if (scale_events_.size() > kScaleEventsKept) scale_events_.pop_front();
  outbox_.push_back(Outgoing{Outgoing::kEvent,
                             {},
                             {},
                             "scale." + a.worker,
                             wire::EventScaleMsg{.event = std::move(event)}.ToMessage()});
}

}  // namespace titan::broker
