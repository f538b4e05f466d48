// A job's resource requests (cpu cores, memory MB, gpus) from `titan run` flags and from YAML, into its
// JobSpec (cpu_milli, memory_mb, gpus). docs/job-control.md, "Placement and requests".
#pragma once

#include <CLI/CLI.hpp>

#include "cli/submit.h"
#include "cli/yaml_fields.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// Cores (>= 0) as thousandths, rounded to the nearest, halves up: floor(cores * 1000 + 0.5), as the SDK
// computes it (1.5 -> 1500).
int64_t CpuMilli(double cores);

// --cpu CORES, --memory MB, --gpus N into *args.
void AddRequestOptions(CLI::App* cmd, RunArgs* args);
// The requests of `args`, when given, into *spec.
void ApplyRequests(const RunArgs& args, wire::JobSpec* spec);
// A YAML job's `cpu` (cores, a number >= 0), `memory` (MB) and `gpus` (integers >= 0) into *spec; Failure
// naming the key and the line otherwise.
void ApplyYamlRequests(const YamlFields& job, wire::JobSpec* spec);

}  // namespace titan::cli
