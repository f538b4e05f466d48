// PickWorker: the broker's placement decision as a pure function over a snapshot of the worker
// table. No sockets, no clock: dispatch_test.cc checks it with tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace titan::broker {

// Amounts of the resources jobs request and workers offer (docs/job-control.md, "Placement and
// requests"): thousandths of a core, MB of memory, GPUs.
struct Resources {
  int64_t cpu_milli = 0;
  int64_t memory_mb = 0;
  int64_t gpus = 0;

  bool empty() const { return cpu_milli == 0 && memory_mb == 0 && gpus == 0; }
  Resources& operator+=(const Resources& o) {
    cpu_milli += o.cpu_milli;
    memory_mb += o.memory_mb;
    gpus += o.gpus;
    return *this;
  }
  bool operator==(const Resources&) const = default;
};

// What a job needs of its worker. Two jobs with equal demands (operator==) are placeable on exactly the
// same workers, which Dispatch uses to skip the jobs whose equal was just found unplaceable.
struct Demand {
  std::string requirement = "GENERAL";  // a capability the worker must have
  std::vector<std::string> controls;    // limits it must enforce ("memory", "cpu", ...), sorted
  std::string runtime;                  // a runtime it must offer; "" none
  Resources request;                    // reserved on the worker while the job runs
  // The one worker the job must run on ("" any): the extension point for constraints that pin a job
  // to a machine (a volume held by one worker). Such a job waits while that worker is busy and is
  // unsatisfiable while it is not live.
  std::string pinned_worker;

  bool operator==(const Demand&) const = default;
};

struct WorkerSlot {
  std::string name;
  int slots = 0;
  int busy = 0;
  std::vector<std::string> capabilities;
  bool accepting = true;              // false while draining
  std::vector<std::string> controls;  // WORKER_READY.controls
  std::vector<std::string> runtimes;  // WORKER_READY.runtimes
  Resources capacity;                 // WORKER_READY cpu_milli/memory_mb/gpus; absent is 0
  Resources reserved;                 // the requests of the jobs running there
};

struct Placement {
  enum Kind { kWorker, kNotNow, kNever } kind = kNever;
  size_t index = 0;  // into the worker list, when kWorker
};

// Whether `w` could ever run a job of demand `d`: it accepts jobs, has the capability, enforces the
// controls, offers the runtime, is the pinned worker if any, and its capacity holds the request.
bool Matches(const Demand& d, const WorkerSlot& w);
// Whether `w` can run it now: Matches, a free slot, and the request fits in capacity - reserved.
bool FitsNow(const Demand& d, const WorkerSlot& w);

// Chooses a worker for a job of demand `d`:
//  - candidates are the workers that can run it now (FitsNow): no worker is ever over-committed;
//  - `affinity_worker`, when non-empty and a candidate, wins (affinity never overrides capacity);
//  - otherwise the least loaded candidate: the lowest of its largest share in use (slots, and each
//    resource it has capacity of), ties: fewer busy, then name order;
//  - kNotNow when some worker Matches but none fits now; kNever when none Matches.
Placement PickWorker(const Demand& d, const std::string& affinity_worker,
                     const std::vector<WorkerSlot>& workers);

// Why no live worker could ever run a job of demand `d` (kNever), with what to do; "" when one could.
std::string WhyNever(const Demand& d, const std::vector<WorkerSlot>& workers);

}  // namespace titan::broker
