// A worker's capacity, what its jobs hold of it, the limits it enforces and its runtimes, as one line of
// `titan stats` / `titan workers`.
#pragma once

#include <string>

#include "schemas/generated/messages.h"

namespace titan::cli {

// "Capacity: CPU 1/2 cores | Mem 512/1024 MB | GPU 1/2 | Limits: memory, cpu (cgroup v1) | Runtimes:
// python-3.11": reserved/capacity of each resource it has, then what it enforces and offers; parts it did not
// report are left out; "" when it reported none.
std::string RenderCapacity(const wire::WorkerInfo& w);

}  // namespace titan::cli
