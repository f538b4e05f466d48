// Resource requests from flags and YAML.
#include "cli/requests.h"

#include <cmath>

namespace titan::cli {

int64_t CpuMilli(double cores) { return static_cast<int64_t>(std::floor(cores * 1000 + 0.5)); }

void AddRequestOptions(CLI::App* cmd, RunArgs* a) {
  cmd->add_option(
         "--cpu", a->cpu,
         "cores reserved for it on its worker (1.5 is allowed); it waits for a worker with them free")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--memory", a->memory_mb, "MB of memory reserved for it on its worker")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  cmd->add_option("--gpus", a->gpus,
                  "GPUs given to it alone (CUDA_VISIBLE_DEVICES); it needs a worker with GPUs")
      ->check(CLI::Range(int64_t{0}, int64_t{4096}));
}

void ApplyRequests(const RunArgs& a, wire::JobSpec* spec) {
  if (a.cpu > 0) spec->cpu_milli = CpuMilli(a.cpu);
  if (a.memory_mb > 0) spec->memory_mb = a.memory_mb;
  if (a.gpus > 0) spec->gpus = a.gpus;
}

void ApplyYamlRequests(const YamlFields& job, wire::JobSpec* spec) {
  if (job.Has("cpu")) {
    const ScalarKind kind = KindOf(job.Value("cpu"));
    double cores = -1;
    if (kind == ScalarKind::kInt || kind == ScalarKind::kFloat) cores = job.Value("cpu").as<double>(-1);
    if (!(cores >= 0 && cores <= 1e6)) {
      throw Failure{job.Line("cpu"),
                    "'cpu' must be a number of cores from 0 to 1000000 (1.5 is allowed) in " + job.what()};
    }
    spec->cpu_milli = CpuMilli(cores);
  }
  for (const char* key : {"memory", "gpus"}) {
    if (!job.Has(key)) continue;
    const int64_t value = job.Integer(key);
    if (value < 0) throw Failure{job.Line(key), "'" + std::string(key) + "' must be >= 0 in " + job.what()};
    (std::string_view(key) == "memory" ? spec->memory_mb : spec->gpus) = value;
  }
}

}  // namespace titan::cli
