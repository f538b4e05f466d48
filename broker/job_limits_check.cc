// JobLimitsProblem: the range of each limit field, and the cpu_cores syntax.
#include "broker/job_limits_check.h"

#include "base/cpu_list.h"

namespace titan::broker {
namespace {

// "" when `value` (absent, or 0 for none) is within lo..hi.
std::string Range(const char* field, const std::optional<int64_t>& value, int64_t lo, int64_t hi,
                  const std::string& unit) {
  if (!value || *value == 0 || (*value >= lo && *value <= hi)) return "";
  const std::string v = std::to_string(*value);
  if (*value < 0)
    return std::string(field) + " " + v + " is negative; use 0 (no limit) or " + std::to_string(lo) + ".." +
           std::to_string(hi) + " " + unit;
  return std::string(field) + " " + v + " is out of range; use 0 (no limit) or " + std::to_string(lo) + ".." +
         std::to_string(hi) + " " + unit;
}

}  // namespace

std::string JobLimitsProblem(const wire::JobSpec& spec) {
  for (std::string problem :
       {Range("max_memory", spec.max_memory, kMinMemoryMb, kMaxMemoryMb, "(MB)"),
        Range("max_cpu", spec.max_cpu, 1, kMaxCpuPercent,
              "(percent of one core: 150 is one and a half cores)"),
        Range("max_iobps", spec.max_iobps, 1, kMaxIoBps, "(bytes per second)"),
        Range("max_processes", spec.max_processes, 1, kMaxProcesses, "(processes and threads)")}) {
    if (!problem.empty()) return problem;
  }
  if (spec.cpu_cores) {
    Result<std::vector<int>> cpus = ParseCpuList(*spec.cpu_cores);
    if (!cpus.ok()) return cpus.message();
  }
  return "";
}

}  // namespace titan::broker
