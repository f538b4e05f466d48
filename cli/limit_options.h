// A job's limits from the command line (`titan run --max-memory 64 --max-cpu 150 --cpu-cores 0-1
// --max-iobps 1048576 --max-processes 100`) into its JobSpec (docs/job-control.md, "Limits").
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "schemas/generated/messages.h"

namespace titan::cli {

struct LimitArgs {
  std::optional<int64_t> max_memory;     // MB
  std::optional<int64_t> max_cpu;        // percent of one core
  std::optional<std::string> cpu_cores;  // "0-1", "2,4"
  std::optional<int64_t> max_iobps;      // bytes per second
  std::optional<int64_t> max_processes;
};

// Adds the five options to `cmd`, filling *limits (which must outlive the parse).
void AddLimitOptions(CLI::App* cmd, LimitArgs* limits);

// Copies the limits given into `spec` (the broker checks their ranges).
void ApplyLimitArgs(const LimitArgs& limits, wire::JobSpec* spec);

}  // namespace titan::cli
