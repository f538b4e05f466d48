// What this machine offers jobs: GENERAL always, GPU when an NVIDIA GPU is visible, HIGH_MEM above a
// memory threshold, plus the operator's tags (upper-cased).
#pragma once

#include <string>
#include <vector>

namespace titan::worker {

std::vector<std::string> DetectCapabilities(const std::vector<std::string>& tags, long high_mem_mb);

}  // namespace titan::worker
