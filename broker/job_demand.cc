// A job's demand from its JobSpec, and its requests checked at submission.
#include "broker/job_demand.h"

#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {

Resources RequestOf(const wire::JobSpec& spec) {
  return Resources{.cpu_milli = std::max<int64_t>(0, spec.cpu_milli.value_or(0)),
                   .memory_mb = std::max<int64_t>(0, spec.memory_mb.value_or(0)),
                   .gpus = std::max<int64_t>(0, spec.gpus.value_or(0))};
}

Demand DemandOf(const Job& job) {
  const wire::JobSpec& s = job.spec;
  Demand d{.requirement = job.requirement, .runtime = s.runtime.value_or(""), .request = RequestOf(s)};
  // Sorted by name, so that equal needs compare equal.
  if (s.cpu_cores && !s.cpu_cores->empty()) d.controls.push_back("cpuset");
  if (s.max_cpu.value_or(0) > 0) d.controls.push_back("cpu");
  if (s.max_iobps.value_or(0) > 0) d.controls.push_back("io");
  if (s.max_memory.value_or(0) > 0) d.controls.push_back("memory");
  if (s.max_processes.value_or(0) > 0) d.controls.push_back("pids");
  std::sort(d.controls.begin(), d.controls.end());
  return d;
}

std::optional<wire::Message> CheckRequests(const wire::JobSpec& spec) {
  if (auto refused = OutOfRange(spec.id, "cpu_milli", spec.cpu_milli.value_or(0), 0, kMaxCpuMilli,
                                "a million cores; TitanJob(cpu=1.5) is 1500"))
    return refused;
  if (auto refused = OutOfRange(spec.id, "memory_mb", spec.memory_mb.value_or(0), 0, kMaxRequestMemoryMb, "MB"))
    return refused;
  return OutOfRange(spec.id, "gpus", spec.gpus.value_or(0), 0, kMaxGpus, "");
}

}  // namespace titan::broker
