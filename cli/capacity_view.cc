// The capacity line of a worker.
#include "cli/capacity_view.h"

#include <cstdio>

namespace titan::cli {
namespace {

std::string Cores(int64_t milli) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", static_cast<double>(milli) / 1000);
  return buf;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::string RenderCapacity(const wire::WorkerInfo& w) {
  std::vector<std::string> parts;
  if (w.cpu_milli.value_or(0) > 0)
    parts.push_back("CPU " + Cores(w.cpu_milli_reserved.value_or(0)) + "/" + Cores(*w.cpu_milli) + " cores");
  if (w.memory_mb.value_or(0) > 0)
    parts.push_back("Mem " + std::to_string(w.memory_mb_reserved.value_or(0)) + "/" +
                    std::to_string(*w.memory_mb) + " MB");
  if (w.gpus.value_or(0) > 0)
    parts.push_back("GPU " + std::to_string(w.gpus_reserved.value_or(0)) + "/" + std::to_string(*w.gpus));
  if (w.controls && !w.controls->empty())
    parts.push_back("Limits: " + Join(*w.controls) + (w.limits_via ? " (" + *w.limits_via + ")" : ""));
  if (w.runtimes && !w.runtimes->empty()) parts.push_back("Runtimes: " + Join(*w.runtimes));
  if (parts.empty()) return "";
  std::string out = "Capacity: ";
  for (size_t i = 0; i < parts.size(); ++i) out += (i == 0 ? "" : " | ") + parts[i];
  return out;
}

}  // namespace titan::cli
