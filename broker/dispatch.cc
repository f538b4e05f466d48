// Least-load placement with strict capability match and parent affinity.
#include "broker/dispatch.h"

#include <algorithm>

namespace titan::broker {

Placement PickWorker(const std::string& requirement, const std::string& affinity_worker,
                     const std::vector<WorkerSlot>& workers) {
  bool any_capable = false;
  const WorkerSlot* best = nullptr;
  size_t best_index = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerSlot& w = workers[i];
    const bool capable =
        std::find(w.capabilities.begin(), w.capabilities.end(), requirement) != w.capabilities.end();
    if (!capable || !w.accepting) continue;
    any_capable = true;
    if (w.busy >= w.slots) continue;
    if (!affinity_worker.empty() && w.name == affinity_worker) return {Placement::kWorker, i};
    if (best == nullptr) {
      best = &w;
      best_index = i;
      continue;
    }
    // Compare busy/slots without division.
    const long lhs = static_cast<long>(w.busy) * best->slots, rhs = static_cast<long>(best->busy) * w.slots;
    if (lhs < rhs || (lhs == rhs && (w.busy < best->busy || (w.busy == best->busy && w.name < best->name)))) {
      best = &w;
      best_index = i;
    }
  }
  if (best != nullptr) return {Placement::kWorker, best_index};
  return {any_capable ? Placement::kNotNow : Placement::kNever, 0};
}

}  // namespace titan::broker
