// Limits of a JobSpec, the controls they need, and a run's usage.
#include "worker/job_limits.h"

#include <algorithm>

namespace titan::worker {

exec::JobLimits LimitsOf(const wire::JobSpec& spec) {
  return exec::JobLimits{.memory_mb = std::max<int64_t>(0, spec.max_memory.value_or(0)),
                         .cpu_percent = std::max<int64_t>(0, spec.max_cpu.value_or(0)),
                         .cpus = spec.cpu_cores.value_or(""),
                         .iobps = std::max<int64_t>(0, spec.max_iobps.value_or(0)),
                         .processes = std::max<int64_t>(0, spec.max_processes.value_or(0))};
}

std::vector<std::string> ControlsNeeded(const wire::JobSpec& spec) {
  const exec::JobLimits l = LimitsOf(spec);
  std::vector<std::string> needed;
  if (l.memory_mb > 0) needed.push_back("memory");
  if (l.cpu_percent > 0) needed.push_back("cpu");
  if (!l.cpus.empty()) needed.push_back("cpuset");
  if (l.iobps > 0) needed.push_back("io");
  if (l.processes > 0) needed.push_back("pids");
  return needed;
}

std::string Unenforceable(const wire::JobSpec& spec, const std::vector<std::string>& controls,
                          const std::string& worker, const std::string& via) {
  static const std::pair<const char*, const char*> kLimitOf[] = {{"memory", "max_memory"},
                                                                 {"cpu", "max_cpu"},
                                                                 {"cpuset", "cpu_cores"},
                                                                 {"io", "max_iobps"},
                                                                 {"pids", "max_processes"}};
  std::string missing;
  for (const std::string& c : ControlsNeeded(spec)) {
    if (std::find(controls.begin(), controls.end(), c) != controls.end()) continue;
    for (const auto& [control, limit] : kLimitOf) {
      if (c == control) missing += (missing.empty() ? "" : ", ") + std::string(limit);
    }
  }
  if (missing.empty()) return "";
  std::string have;
  for (const std::string& c : controls) have += (have.empty() ? "" : " ") + c;
  return "worker " + worker + " cannot enforce " + missing + " (it enforces " +
         (have.empty() ? "none" : have) + ", by " + via +
         "); run it on a worker with writable cgroups (docs/job-control.md, \"Limits\")";
}

std::string MemoryLimitReason(int64_t memory_mb) {
  return "killed: memory limit " + std::to_string(memory_mb) + " MB exceeded";
}

RunUsage UsageOf(const exec::CgroupUsage& c) {
  RunUsage r;
  r.memory_killed = c.oom_kills > 0;
  if (c.peak_memory_bytes || c.cpu_ms || c.io_read_bytes || c.io_write_bytes) {
    r.usage = wire::JobUsage{.peak_memory_bytes = c.peak_memory_bytes,
                             .cpu_ms = c.cpu_ms,
                             .io_read_bytes = c.io_read_bytes,
                             .io_write_bytes = c.io_write_bytes};
  }
  return r;
}

}  // namespace titan::worker
