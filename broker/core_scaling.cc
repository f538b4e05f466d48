// BrokerCore: auto-scaling. Every half second, when a policy is set, DecideScaling looks at the
// worker table and the queue; the core sends WORKER_SPAWN / WORKER_DRAIN and publishes each decision
// (EVENT_SCALE, also kept for STATS).
#include <spdlog/spdlog.h>

#include "broker_core.h"

namespace titan::broker {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

namespace {
constexpr int64_t kScaleEveryMs = 500;
constexpr size_t kScaleEventsKept = 50;
}  // namespace

void BrokerCore::Autoscale(int64_t now) {
  next_scale_check_ = now + kScaleEveryMs;
  const ScalePolicy& policy = config_.scaling;
  std::erase_if(scale_pending_, [&](const ScalePending& p) {
    if (now - p.requested_at < policy.spawn_timeout_ms) return false;
    spdlog::warn("broker: child worker {} asked of {} never joined; giving up on it", p.child, p.parent);
    return true;
  });
  std::vector<ScaleWorker> workers;
  for (const auto& [name, w] : workers_) {
    workers.push_back(ScaleWorker{w.name, w.parent, w.capabilities, w.slots,
                                  static_cast<int>(w.running.size()), w.draining,
                                  w.running.empty() ? w.idle_since : 0});
  }
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
  for (const ScaleAction& a : DecideScaling(policy, workers, waits, scale_pending_, now, next_child_)) {
    auto parent = workers_.find(a.parent);
    if (a.kind == ScaleAction::kSpawn && parent != workers_.end()) {
      ++next_child_;
      scale_pending_.push_back(ScalePending{a.parent, a.worker, now});
      SendWorker(parent->second, wire::MakeMessage(MsgType::kWorkerSpawn)
                                     .Set("name", Datum(Text{a.worker}))
                                     .Set("slots", Datum(int64_t{a.slots}))
                                     .Set("reason", Datum(Text{a.reason})));
      RecordScaling("spawn", a, now);
    } else if (a.kind == ScaleAction::kRetire) {
      auto child = workers_.find(a.worker);
      if (child == workers_.end()) continue;
      child->second.draining = true;
      SendWorker(
          child->second,
          wire::MakeMessage(MsgType::kWorkerDrain).Set("reason", Datum(Text{"auto-scaling: " + a.reason})));
      PublishWorker(child->second, "draining", now);
      RecordScaling("retire", a, now);
    }
  }
}

void BrokerCore::RecordScaling(const char* action, const ScaleAction& a, int64_t now) {
  spdlog::info("broker: auto-scaling: {} {} on {} ({})", action, a.worker, a.parent, a.reason);
  Datum event(wire::Map{{"action", Datum(Text{action})},
                        {"worker", Datum(Text{a.worker})},
                        {"parent", Datum(Text{a.parent})},
                        {"reason", Datum(Text{a.reason})},
                        {"ts_ms", Datum(now)}});
  scale_events_.push_back(event);
  if (scale_events_.size() > kScaleEventsKept) scale_events_.pop_front();
  outbox_.push_back(Outgoing{Outgoing::kEvent,
                             {},
                             {},
                             "scale." + a.worker,
                             wire::MakeMessage(MsgType::kEventScale).Set("event", std::move(event))});
}

}  // namespace titan::broker
