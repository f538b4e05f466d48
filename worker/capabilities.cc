// Capability detection from /proc and /dev.
#include "worker/capabilities.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace titan::worker {
namespace {

bool HasNvidiaGpu() {
  std::error_code ec;
  if (std::filesystem::exists("/dev/nvidia0", ec)) return true;
  const std::filesystem::path gpus = "/proc/driver/nvidia/gpus";
  return std::filesystem::is_directory(gpus, ec) && !std::filesystem::is_empty(gpus, ec);
}

long MemTotalMb() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb / 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

}  // namespace

std::vector<std::string> DetectCapabilities(const std::vector<std::string>& tags, long high_mem_mb) {
  std::vector<std::string> caps = {"GENERAL"};
  if (HasNvidiaGpu()) caps.push_back("GPU");
  if (MemTotalMb() >= high_mem_mb) caps.push_back("HIGH_MEM");
  for (std::string t : tags) {
    std::transform(t.begin(), t.end(), t.begin(), ::toupper);
    if (!t.empty() && std::find(caps.begin(), caps.end(), t) == caps.end()) caps.push_back(t);
  }
  return caps;
}

}  // namespace titan::worker
