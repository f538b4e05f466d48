// The worker's reaper: started by the worker, it waits on the worker's pidfd and ends what it left.
#include "worker/worker_reaper.h"

#include <errno.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

#include "worker/dir_lock.h"
#include "worker/job_cgroup.h"
#include "worker/pid_registry.h"

namespace titan::worker {

std::vector<std::string> ReaperArgv(const std::string& exe, const ReaperOptions& o) {
  std::vector<std::string> argv = {exe,
                                   "worker-reaper",
                                   "--worker-pid",
                                   std::to_string(o.worker_pid),
                                   "--worker-start",
                                   std::to_string(o.worker_start),
                                   "--registry",
                                   o.registry};
  for (const std::string& dir : o.cgroup_dirs) argv.insert(argv.end(), {"--cgroup-dir", dir});
  if (!o.lock.empty()) argv.insert(argv.end(), {"--lock", o.lock});
  if (o.log_format != "text") argv.insert(argv.end(), {"--log-format", o.log_format});
  return argv;
}

Result<exec::ChildProcess> StartReaper(const std::string& exe, const ReaperOptions& o,
                                       const std::string& log) {
  exec::SpawnSpec spec;
  spec.argv = ReaperArgv(exe, o);
  spec.env = exec::CurrentEnvironment();
  spec.output_file = log;
  spec.parent_death_signal = 0;
  return exec::ChildProcess::Spawn(spec);
}

int RunReaper(const ReaperOptions& o) {
  const exec::UniqueFd worker = exec::OpenPidFd(o.worker_pid);
  const std::optional<exec::ProcStat> st = exec::ReadProcStat(o.worker_pid);
  if (worker.valid() && st && st->start_time == o.worker_start) {
    pollfd p{worker.get(), POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
  }
  std::optional<exec::UniqueFd> lock;  // held until the sweep is done: a restarted worker waits for it
  if (!o.lock.empty()) {
    Result<std::optional<exec::UniqueFd>> taken = TryLockDir(o.lock);
    if (!taken.ok()) {  // nobody can hold it either: the leftovers are ours to end
      spdlog::warn("worker-reaper: {}; ending what worker {} left without it", taken.message(), o.worker_pid);
    } else if (!*taken) {
      spdlog::info(
          "worker-reaper: worker {} ended; a worker restarted on its --dir holds '{}' and ends what "
          "it left",
          o.worker_pid, o.lock);
      return 0;
    } else {
      lock = std::move(*taken);
    }
  }
  int ended = 0;
  for (const std::string& dir : o.cgroup_dirs) ended += exec::EndCgroupsUnder(dir, /*remove_dir=*/true);
  if (auto registry = exec::PidRegistry::OpenReadOnly(o.registry); registry.ok()) {
    if (auto n = registry->ReapLeftovers(std::chrono::milliseconds(0)); n.ok()) ended += n.value();
  } else {
    spdlog::error("worker-reaper: {}", registry.message());
  }
  if (ended > 0) spdlog::warn("worker-reaper: worker {} ended; ended {} of its jobs", o.worker_pid, ended);
  return 0;
}

}  // namespace titan::worker
