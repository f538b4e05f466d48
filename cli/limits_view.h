// A job's limits and what its last run used, as `titan status` shows them (docs/job-control.md,
// "Limits"). Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "schemas/generated/messages.h"

namespace titan::cli {

// "memory 64 MB, cpu 150% of a core, cores 0-1, io 1048576 B/s, processes 100"; "" without limits.
std::string RenderLimits(std::optional<int64_t> max_memory, std::optional<int64_t> max_cpu,
                         const std::optional<std::string>& cpu_cores, std::optional<int64_t> max_iobps,
                         std::optional<int64_t> max_processes);

// "peak memory 63.8 MiB, cpu 1.25 s, read 0 B, written 4.0 KiB"; "" when nothing was measured.
std::string RenderUsage(const std::optional<wire::JobUsage>& usage);

}  // namespace titan::cli
