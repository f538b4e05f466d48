// The limit options of `titan run` and `titan deploy`.
#include "cli/limit_options.h"

namespace titan::cli {

void AddLimitOptions(CLI::App* cmd, LimitArgs* l) {
  cmd->add_option("--max-memory", l->max_memory,
                  "MB of memory its processes may use together; over it the job is killed and FAILED")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-cpu", l->max_cpu,
                  "CPU it may use, in percent of one core (150: one and a half cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--cpu-cores", l->cpu_cores, "the CPUs it may run on: \"0-1\", \"2,4\"");
  cmd->add_option("--max-iobps", l->max_iobps, "bytes per second it may read, and write, on each disk")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-processes", l->max_processes, "processes and threads it may have at once")
      ->check(CLI::NonNegativeNumber);
}

void ApplyLimitArgs(const LimitArgs& l, wire::JobSpec* spec) {
  spec->max_memory = l.max_memory;
  spec->max_cpu = l.max_cpu;
  spec->cpu_cores = l.cpu_cores;
  spec->max_iobps = l.max_iobps;
  spec->max_processes = l.max_processes;
}

}  // namespace titan::cli
