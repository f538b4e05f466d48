// Placement: capability, controls, runtime and pinning match; requests packed into capacity; parent
// affinity; least load.
#include "broker/dispatch.h"

#include <algorithm>
#include <cstdio>

namespace titan::broker {
namespace {

bool Has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// Matches without the capacity check: the worker could run the job given enough resources.
bool Eligible(const Demand& d, const WorkerSlot& w) {
  if (!w.accepting || !Has(w.capabilities, d.requirement)) return false;
  if (!d.pinned_worker.empty() && w.name != d.pinned_worker) return false;
  if (!d.runtime.empty() && !Has(w.runtimes, d.runtime)) return false;
  return std::all_of(d.controls.begin(), d.controls.end(),
                     [&](const std::string& c) { return Has(w.controls, c); });
}

// `request` fits in `room` (a request of 0 always fits, whatever the room).
bool Within(const Resources& request, const Resources& room) {
  return (request.cpu_milli == 0 || request.cpu_milli <= room.cpu_milli) &&
         (request.memory_mb == 0 || request.memory_mb <= room.memory_mb) &&
         (request.gpus == 0 || request.gpus <= room.gpus);
}

// The largest share of the worker in use: slots, and each resource it has capacity of.
double Load(const WorkerSlot& w) {
  double load = w.slots > 0 ? static_cast<double>(w.busy) / w.slots : 1.0;
  auto share = [&](int64_t used, int64_t cap) {
    if (cap > 0) load = std::max(load, static_cast<double>(used) / static_cast<double>(cap));
  };
  share(w.reserved.cpu_milli, w.capacity.cpu_milli);
  share(w.reserved.memory_mb, w.capacity.memory_mb);
  share(w.reserved.gpus, w.capacity.gpus);
  return load;
}

bool LessLoaded(const WorkerSlot& a, const WorkerSlot& b) {
  const double la = Load(a), lb = Load(b);  // equal fractions round to equal doubles
  if (la != lb) return la < lb;
  if (a.busy != b.busy) return a.busy < b.busy;
  return a.name < b.name;
}

// The control's limit as users write it.
const char* LimitOf(const std::string& control) {
  if (control == "memory") return "max_memory";
  if (control == "cpu") return "max_cpu";
  if (control == "cpuset") return "cpu_cores";
  if (control == "io") return "max_iobps";
  if (control == "pids") return "max_processes";
  return "a limit";
}

std::string Cores(int64_t milli) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(milli) / 1000);
  return buf;
}

// "cpu 4 cores" / "memory 512 MB" / "2 GPUs" for the parts of `r` that are set.
std::string Describe(const Resources& r) {
  std::vector<std::string> parts;
  if (r.cpu_milli > 0)
    parts.push_back("cpu " + Cores(r.cpu_milli) + (r.cpu_milli == 1000 ? " core" : " cores"));
  if (r.memory_mb > 0) parts.push_back("memory " + std::to_string(r.memory_mb) + " MB");
  if (r.gpus > 0) parts.push_back(std::to_string(r.gpus) + " GPU" + (r.gpus == 1 ? "" : "s"));
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i)
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
}

// The capacity reason: the request against the largest of `eligible` in each resource.
std::string TooLarge(const Demand& d, const std::vector<const WorkerSlot*>& eligible) {
  Resources most;
  for (const WorkerSlot* w : eligible) {
    most.cpu_milli = std::max(most.cpu_milli, w->capacity.cpu_milli);
    most.memory_mb = std::max(most.memory_mb, w->capacity.memory_mb);
    most.gpus = std::max(most.gpus, w->capacity.gpus);
  }
  const Resources& r = d.request;
  std::string flags;
  if (r.cpu_milli > most.cpu_milli) flags += " --cpus " + Cores(r.cpu_milli);
  if (r.memory_mb > most.memory_mb) flags += " --memory " + std::to_string(r.memory_mb);
  if (r.gpus > most.gpus) flags += " --gpus " + std::to_string(r.gpus);
  const std::string where = "live worker with capability " + d.requirement;
  if (flags.empty()) {
    return "it requests " + Describe(r) + ", which no single " + where +
           " has at once; lower the request or start a worker that has it all (`titan worker --cpus N "
           "--memory MB --gpus N`)";
  }
  return "it requests " + Describe(r) + ", more than any " + where + " has (the most: " + Describe(most) +
         (most.empty() ? "none" : "") + "); lower the request or start a worker with `titan worker" + flags +
         "`";
}

}  // namespace

bool Matches(const Demand& d, const WorkerSlot& w) { return Eligible(d, w) && Within(d.request, w.capacity); }

bool FitsNow(const Demand& d, const WorkerSlot& w) {
  if (w.busy >= w.slots || !Matches(d, w)) return false;
  const Resources room{w.capacity.cpu_milli - w.reserved.cpu_milli,
                       w.capacity.memory_mb - w.reserved.memory_mb, w.capacity.gpus - w.reserved.gpus};
  return Within(d.request, room);
}

Placement PickWorker(const Demand& d, const std::string& affinity_worker,
                     const std::vector<WorkerSlot>& workers) {
  bool any_match = false;
  const WorkerSlot* best = nullptr;
  size_t best_index = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerSlot& w = workers[i];
    if (!Matches(d, w)) continue;
    any_match = true;
    if (!FitsNow(d, w)) continue;
    if (!affinity_worker.empty() && w.name == affinity_worker) return {Placement::kWorker, i};
    if (best == nullptr || LessLoaded(w, *best)) {
      best = &w;
      best_index = i;
    }
  }
  if (best != nullptr) return {Placement::kWorker, best_index};
  return {any_match ? Placement::kNotNow : Placement::kNever, 0};
}

std::string WhyNever(const Demand& d, const std::vector<WorkerSlot>& workers) {
  std::vector<const WorkerSlot*> capable;
  for (const WorkerSlot& w : workers) {
    if (w.accepting && Has(w.capabilities, d.requirement)) capable.push_back(&w);
    if (Matches(d, w)) return "";
  }
  if (!d.pinned_worker.empty()) {
    const bool live = std::any_of(capable.begin(), capable.end(),
                                  [&](const WorkerSlot* w) { return w->name == d.pinned_worker; });
    if (!live) {
      return "it must run on worker " + d.pinned_worker +
             ", which is not live (or not accepting jobs, or lacks capability " + d.requirement +
             "); start it again";
    }
    capable = {*std::find_if(capable.begin(), capable.end(),
                             [&](const WorkerSlot* w) { return w->name == d.pinned_worker; })};
  }
  if (capable.empty()) {
    return "no live worker has capability " + d.requirement + "; start one with `titan worker --tag " +
           d.requirement + "`";
  }
  for (const std::string& control : d.controls) {
    std::erase_if(capable, [&](const WorkerSlot* w) { return !Has(w->controls, control); });
    if (capable.empty()) {
      return "no live worker with capability " + d.requirement + " enforces " + control + " limits (" +
             LimitOf(control) +
             "); run a worker that can (root, or a writable cgroup: docs/job-control.md) or drop " +
             LimitOf(control);
    }
  }
  if (!d.runtime.empty()) {
    std::erase_if(capable, [&](const WorkerSlot* w) { return !Has(w->runtimes, d.runtime); });
    if (capable.empty()) {
      return "no live worker with capability " + d.requirement + " offers runtime '" + d.runtime +
             "'; start one with `titan worker --runtime " + d.runtime + "=PATH`";
    }
  }
  return TooLarge(d, capable);
}

}  // namespace titan::broker
