// Rendering a worker's machine for `titan stats`.
#include "cli/machine_view.h"

#include <cstdio>
#include <vector>

namespace titan::cli {
namespace {

std::string GiB(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

std::string Milli(int64_t milli) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(milli) / 1000.0);
  return buf;
}

}  // namespace

std::string RenderMachine(const wire::MachineStats& m) {
  std::vector<std::string> parts;
  if (m.cpu_permille) {
    parts.push_back("CPU " + std::to_string((*m.cpu_permille + 5) / 10) + "%" +
                    (m.cpus ? " of " + std::to_string(*m.cpus) : ""));
  }
  if (m.mem_used_bytes && m.mem_total_bytes) {
    parts.push_back("Mem " + GiB(*m.mem_used_bytes) + "/" + GiB(*m.mem_total_bytes) + " GiB");
  }
  if (m.load1_milli) parts.push_back("Load " + Milli(*m.load1_milli));
  if (m.disk_free_bytes) parts.push_back("Disk free " + GiB(*m.disk_free_bytes) + " GiB");
  for (const wire::GpuStats& g : m.gpus.value_or(std::vector<wire::GpuStats>{})) {
    parts.push_back("GPU" + std::to_string(g.index) + " " + std::to_string(g.util_pct) + "% " +
                    GiB(g.mem_used_bytes) + "/" + GiB(g.mem_total_bytes) + " GiB");
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : " | ") + p;
  return out;
}

}  // namespace titan::cli
