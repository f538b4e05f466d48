// PickWorker: the broker's placement decision as a pure function over a snapshot of the worker
// table. No sockets, no clock: dispatch_test.cc checks it with tables.
#pragma once

#include <string>
#include <vector>

namespace titan::broker {

struct WorkerSlot {
  std::string name;
  int slots = 0;
  int busy = 0;
  std::vector<std::string> capabilities;
  bool accepting = true;  // false while draining
};

struct Placement {
  enum Kind { kWorker, kNotNow, kNever } kind = kNever;
  size_t index = 0;  // into the worker list, when kWorker
};

// Chooses a worker for a job needing `requirement`:
//  - only workers that have the capability and accept jobs are candidates (strict match);
//  - `affinity_worker`, when non-empty and a candidate with a free slot, wins;
//  - otherwise the least loaded candidate with a free slot (lowest busy/slots; ties: fewer busy,
//    then name order);
//  - kNotNow when candidates exist but all are full; kNever when no live worker has the capability.
Placement PickWorker(const std::string& requirement, const std::string& affinity_worker,
                     const std::vector<WorkerSlot>& workers);

}  // namespace titan::broker
