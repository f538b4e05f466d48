// The broker's check of a submitted job's limits (max_memory, max_cpu, cpu_cores, max_iobps,
// max_processes) before it is accepted: negative values, sizes no machine has, a cpu_cores that is not
// a CPU list. Pure; called from the submit path (core_submit.cc).
#pragma once

#include <string>

#include "schemas/generated/messages.h"

namespace titan::broker {

inline constexpr int64_t kMaxMemoryMb = int64_t{1} << 24;  // 16 TiB
inline constexpr int64_t kMaxCpuPercent = 1024 * 100;      // 1024 cores
inline constexpr int64_t kMaxIoBps = int64_t{1} << 40;     // 1 TiB/s
inline constexpr int64_t kMaxProcesses = 4 * 1024 * 1024;  // Linux's PID_MAX_LIMIT
inline constexpr int64_t kMinMemoryMb = 4;                 // below this not even a shell starts

// What is wrong with `spec`'s limits, as a sentence that names the field, its value and what to write
// instead; "" when they are fine.
std::string JobLimitsProblem(const wire::JobSpec& spec);

}  // namespace titan::broker
