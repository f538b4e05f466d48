// The limit keys of a YAML job (both formats): max_memory, max_cpu, cpu_cores, max_iobps, max_processes,
// as the SDK's loader reads them (sdk/python/titan_sdk/limits.py). docs/job-control.md, "Limits".
#pragma once

#include <string_view>
#include <vector>

#include "cli/yaml_fields.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// `keys` followed by the limit keys: a format's known job keys.
std::vector<std::string_view> WithLimitKeys(std::vector<std::string_view> keys);

// The limits `job` sets, into `spec`. Throws Failure (naming the line) for a negative number or a
// cpu_cores that is neither a string nor an integer; 0 means no limit and is left out.
void ReadLimitKeys(const YamlFields& job, wire::JobSpec* spec);

}  // namespace titan::cli
