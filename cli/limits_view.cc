// Renderings of limits, usage and worker controls.
#include "cli/limits_view.h"

#include <cstdio>

#include "cli/artifact_view.h"  // FormatBytes

namespace titan::cli {
namespace {

void Add(std::string* out, const std::string& part) {
  if (!part.empty()) *out += (out->empty() ? "" : ", ") + part;
}

}  // namespace

std::string RenderLimits(std::optional<int64_t> max_memory, std::optional<int64_t> max_cpu,
                         const std::optional<std::string>& cpu_cores, std::optional<int64_t> max_iobps,
                         std::optional<int64_t> max_processes) {
  std::string out;
  if (max_memory.value_or(0) > 0) Add(&out, "memory " + std::to_string(*max_memory) + " MB");
  if (max_cpu.value_or(0) > 0) Add(&out, "cpu " + std::to_string(*max_cpu) + "% of a core");
  if (cpu_cores && !cpu_cores->empty()) Add(&out, "cores " + *cpu_cores);
  if (max_iobps.value_or(0) > 0) Add(&out, "io " + std::to_string(*max_iobps) + " B/s");
  if (max_processes.value_or(0) > 0) Add(&out, "processes " + std::to_string(*max_processes));
  return out;
}

std::string RenderUsage(const std::optional<wire::JobUsage>& u) {
  if (!u) return "";
  std::string out;
  if (u->peak_memory_bytes) Add(&out, "peak memory " + FormatBytes(*u->peak_memory_bytes));
  if (u->cpu_ms) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "cpu %.2f s", static_cast<double>(*u->cpu_ms) / 1000);
    Add(&out, buf);
  }
  if (u->io_read_bytes) Add(&out, "read " + FormatBytes(*u->io_read_bytes));
  if (u->io_write_bytes) Add(&out, "written " + FormatBytes(*u->io_write_bytes));
  return out;
}

}  // namespace titan::cli
