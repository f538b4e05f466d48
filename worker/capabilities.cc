// Capability detection (the machine's memory and GPUs come from worker/capacity.h).
#include "worker/capabilities.h"

#include <algorithm>

namespace titan::worker {

std::vector<std::string> DetectCapabilities(const std::vector<std::string>& tags, long high_mem_mb,
                                            int64_t memory_mb, bool has_gpus) {
  std::vector<std::string> caps = {"GENERAL"};
  if (has_gpus) caps.push_back("GPU");
  if (memory_mb >= high_mem_mb) caps.push_back("HIGH_MEM");
  for (std::string t : tags) {
    std::transform(t.begin(), t.end(), t.begin(), ::toupper);
    if (!t.empty() && std::find(caps.begin(), caps.end(), t) == caps.end()) caps.push_back(t);
  }
  return caps;
}

}  // namespace titan::worker
