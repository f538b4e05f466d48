// WorkerCore: GPUs. Each job that requests GPUs (JobSpec.gpus) gets devices of its own, named to it in
// CUDA_VISIBLE_DEVICES; two runs never hold the same device. A run holds its devices until it is over here
// (a service across its restarts). An assignment that finds too few free (a run the broker no longer
// counts, cancelled or fenced, is still ending) waits for them, as for its file.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "worker/worker_core.h"

namespace titan::worker {

bool WorkerCore::TakeGpus(wire::JobAssignMsg& assign) {
  const int64_t want = assign.job.gpus.value_or(0);
  if (want <= 0) return true;
  std::vector<int64_t> free;
  for (int64_t device : c_.gpus) {
    if (!gpu_holder_.count(device)) free.push_back(device);
  }
  if (static_cast<int64_t>(free.size()) < want) return false;
  std::string visible;
  for (int64_t i = 0; i < want; ++i) {
    gpu_holder_[free[i]] = assign.job.id;
    visible += (visible.empty() ? "" : ",") + std::to_string(free[i]);
  }
  if (!assign.job.env) assign.job.env.emplace();
  assign.job.env->push_back("CUDA_VISIBLE_DEVICES=" + visible);
  return true;
}

void WorkerCore::FreeGpus(const std::string& id) {
  bool freed = false;
  for (auto it = gpu_holder_.begin(); it != gpu_holder_.end();) {
    if (it->second == id) {
      it = gpu_holder_.erase(it);
      freed = true;
    } else {
      ++it;
    }
  }
  if (!freed) return;
  auto waiting = awaiting_file_.find(kAwaitingGpus);
  if (waiting == awaiting_file_.end()) return;
  std::vector<wire::JobAssignMsg> assigns = std::move(waiting->second);
  awaiting_file_.erase(waiting);
  for (const wire::JobAssignMsg& a : assigns) Launch(a);  // in order; those still short wait again
}

std::string WorkerCore::RenderGpus() const {
  std::string out;
  for (const auto& [device, id] : gpu_holder_)
    out += (out.empty() ? "" : " ") + std::to_string(device) + ":" + id;
  return out;
}

}  // namespace titan::worker
