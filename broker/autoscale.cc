// DecideScaling: spawn when work waits with no free slot that could take it; retire idle children.
#include "broker/autoscale.h"

#include <algorithm>
#include <map>
#include <optional>

namespace titan::broker {
namespace {

bool Has(const std::vector<std::string>& caps, const std::string& c) {
  return std::find(caps.begin(), caps.end(), c) != caps.end();
}

// Spawn: the longest wait past the threshold whose requirement no live worker has a free slot for,
// asked of the parent with the fewest children that has the capability.
std::optional<ScaleAction> DecideSpawn(const ScalePolicy& policy, const std::vector<ScaleWorker>& workers,
                                       const std::vector<ScaleWait>& waits, bool pending, int64_t now,
                                       std::map<std::string, int>& children, int64_t next_child) {
  if (pending) return std::nullopt;  // one child at a time: let the last one join first
  for (const auto& wait : waits) {
    if (now - wait.queued_at < policy.wait_ms) continue;
    const bool free_slot = std::any_of(workers.begin(), workers.end(), [&](const ScaleWorker& w) {
      return !w.draining && w.busy < w.slots && Has(w.capabilities, wait.requirement);
    });
    if (free_slot) continue;
    const ScaleWorker* best = nullptr;
    for (const auto& w : workers) {
      if (!w.parent.empty() || w.draining || !Has(w.capabilities, wait.requirement)) continue;
      if (children[w.name] >= policy.max_children) continue;
      if (best == nullptr || children[w.name] < children[best->name]) best = &w;
    }
    if (best == nullptr) continue;
    return ScaleAction{ScaleAction::kSpawn, best->name, best->name + "-auto-" + std::to_string(next_child),
                       best->slots,
                       "a " + wait.requirement + " job waited " + std::to_string(now - wait.queued_at) +
                           " ms with no free slot"};
  }
  return std::nullopt;
}

// Retire: the child idle longest past the cool-down, while its parent keeps more than min_children.
std::optional<ScaleAction> DecideRetire(const ScalePolicy& policy, const std::vector<ScaleWorker>& workers,
                                        int64_t now, std::map<std::string, int>& children) {
  const ScaleWorker* idle = nullptr;
  for (const auto& w : workers) {
    if (w.parent.empty() || w.manual || w.draining || w.busy > 0 || w.idle_since == 0) continue;
    if (now - w.idle_since < policy.cooldown_ms || children[w.parent] <= policy.min_children) continue;
    if (idle == nullptr || w.idle_since < idle->idle_since) idle = &w;
  }
  if (idle == nullptr) return std::nullopt;
  return ScaleAction{ScaleAction::kRetire, idle->parent, idle->name, 0,
                     "idle for " + std::to_string(now - idle->idle_since) + " ms"};
}

}  // namespace

std::vector<ScaleAction> DecideScaling(const ScalePolicy& policy, const std::vector<ScaleWorker>& workers,
                                       const std::vector<ScaleWait>& waits,
                                       const std::vector<ScalePending>& pending, int64_t now,
                                       int64_t next_child) {
  std::vector<ScaleAction> out;
  if (policy.max_children <= 0) return out;
  std::map<std::string, int> children;  // parent -> live (not draining) + pending children
  for (const auto& w : workers) {
    if (!w.parent.empty() && !w.draining && !w.manual) ++children[w.parent];
  }
  for (const auto& p : pending) ++children[p.parent];
  if (auto spawn = DecideSpawn(policy, workers, waits, !pending.empty(), now, children, next_child))
    out.push_back(std::move(*spawn));
  if (auto retire = DecideRetire(policy, workers, now, children)) out.push_back(std::move(*retire));
  return out;
}

}  // namespace titan::broker
