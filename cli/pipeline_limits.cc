// YAML limit keys into a JobSpec.
#include "cli/pipeline_limits.h"

#include <string>

namespace titan::cli {
namespace {

constexpr std::string_view kIntLimits[] = {"max_memory", "max_cpu", "max_iobps", "max_processes"};

std::optional<int64_t>* Field(wire::JobSpec* spec, std::string_view key) {
  if (key == "max_memory") return &spec->max_memory;
  if (key == "max_cpu") return &spec->max_cpu;
  if (key == "max_iobps") return &spec->max_iobps;
  return &spec->max_processes;
}

}  // namespace

std::vector<std::string_view> WithLimitKeys(std::vector<std::string_view> keys) {
  keys.insert(keys.end(), {"max_memory", "max_cpu", "cpu_cores", "max_iobps", "max_processes"});
  return keys;
}

void ReadLimitKeys(const YamlFields& job, wire::JobSpec* spec) {
  for (const std::string_view key : kIntLimits) {
    if (!job.Has(key)) continue;
    const int64_t value = job.Integer(key);
    if (value < 0) {
      throw Failure{job.Line(key), "'" + std::string(key) + "' must be >= 0 (0: no limit) in " + job.what() +
                                       "; got " + std::to_string(value)};
    }
    if (value > 0) *Field(spec, key) = value;
  }
  if (job.Has("cpu_cores")) {
    const YAML::Node value = job.Value("cpu_cores");
    const ScalarKind kind = KindOf(value);
    if (kind != ScalarKind::kString && kind != ScalarKind::kInt) {
      throw Failure{job.Line("cpu_cores"),
                    "'cpu_cores' must be a CPU list such as \"0-1\" or \"2,4\" in " + job.what()};
    }
    spec->cpu_cores =
        kind == ScalarKind::kInt ? std::to_string(job.Integer("cpu_cores")) : job.Text("cpu_cores");
  }
}

}  // namespace titan::cli
