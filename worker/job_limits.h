// A job's limits as the worker sees them: read from its JobSpec, checked against the controls this
// worker enforces (WORKER_READY.controls), and what a run used, for its JobResult. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "schemas/generated/messages.h"
#include "worker/cgroup_files.h"

namespace titan::worker {

// The limits of `spec` (max_memory, max_cpu, cpu_cores, max_iobps, max_processes).
exec::JobLimits LimitsOf(const wire::JobSpec& spec);

// The controls (memory cpu cpuset io pids) the limits of `spec` need, in that order.
std::vector<std::string> ControlsNeeded(const wire::JobSpec& spec);

// Why worker `worker` (enforcing `controls`, by `via`) must not run `spec`: it asks for a limit the
// worker cannot enforce. "" when it can run it.
std::string Unenforceable(const wire::JobSpec& spec, const std::vector<std::string>& controls,
                          const std::string& worker, const std::string& via);

// "killed: memory limit 64 MB exceeded": the reason of a run its memory limit ended.
std::string MemoryLimitReason(int64_t memory_mb);

// What a run used, measured by the OS edge when its leader exited (absent: not measured).
struct RunUsage {
  std::optional<wire::JobUsage> usage;
  bool memory_killed = false;  // the kernel killed one of its processes for its memory limit
};

// RunUsage from a job's cgroup counters.
RunUsage UsageOf(const exec::CgroupUsage& counters);

}  // namespace titan::worker
