// What this machine offers jobs: GENERAL always, GPU when it has GPUs, HIGH_MEM above a memory threshold,
// plus the operator's tags (upper-cased).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace titan::worker {

// `memory_mb` and `has_gpus`: the worker's capacity (worker/capacity.h: detected, or the operator's).
std::vector<std::string> DetectCapabilities(const std::vector<std::string>& tags, long high_mem_mb,
                                            int64_t memory_mb, bool has_gpus);

}  // namespace titan::worker
