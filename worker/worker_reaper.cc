// The worker's reaper: started by the worker, it waits on the worker's pidfd and ends what it left.
#include "worker/worker_reaper.h"

#include <errno.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

#include "security/client_security.h"
#include "worker/dir_lock.h"
#include "worker/job_cgroup.h"
#include "worker/pid_registry.h"
#include "worker/reaper_report.h"
#include "worker/reaper_runs.h"

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
  if (o.watch_runs) {
    argv.insert(argv.end(), {"--watch-runs", "--worker-name", o.worker_name, "--broker-host", o.broker_host,
                             "--broker-port", std::to_string(o.broker_port), "--heartbeat-ms",
                             std::to_string(o.heartbeat_ms)});
    if (!o.credentials.empty()) argv.insert(argv.end(), {"--credentials", o.credentials});
  }
  return argv;
}

Result<exec::ChildProcess> StartReaper(const std::string& exe, const ReaperOptions& o, const std::string& log,
                                       int runs) {
  exec::SpawnSpec spec;
  spec.argv = ReaperArgv(exe, o);
  spec.env = exec::CurrentEnvironment();
  spec.output_file = log;
  spec.parent_death_signal = 0;
  spec.stdin_fd = runs;
  return exec::ChildProcess::Spawn(spec);
}

namespace {

constexpr std::chrono::seconds kReportDeadline{10};

// Waits for the worker's pidfd (`worker`, invalid: gone already), receiving the runs handed over on
// stdin meanwhile and those sent just before it died.
void WaitForWorker(const exec::UniqueFd& worker, bool alive, bool watch_runs, WatchedRuns* watched) {
  bool runs_open = watch_runs;
  if (worker.valid() && alive) {
    pollfd p[2] = {{worker.get(), POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    for (;;) {
      const int n = ::poll(p, runs_open ? 2 : 1, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) break;
      if (runs_open && p[1].revents != 0) runs_open = watched->Receive(STDIN_FILENO);
      if (p[0].revents != 0) break;
    }
  }
  if (watch_runs) watched->Receive(STDIN_FILENO);
}

// The results of the watched runs whose processes had exited on their own (ResultsOf), read before the
// sweep kills what is left.
std::vector<wire::JobResult> ExitedRuns(const WatchedRuns& watched) {
  std::vector<std::pair<const WatchedRun*, int>> ended;
  for (const WatchedRun& run : watched.runs()) {
    if (const std::optional<int> status = ExitOf(run)) ended.emplace_back(&run, *status);
  }
  return ResultsOf(ended);
}

// The lock once the dead worker's copies of it are gone. A process the worker was starting when it died
// (between vfork and exec: cgroup migrations can take milliseconds) holds a copy of its descriptor until
// its parent-death signal ends it, so a lock still held after kLockGrace is a restarted worker's.
Result<std::optional<exec::UniqueFd>> TakeLockAfterWorker(const std::string& path) {
  constexpr auto kLockGrace = std::chrono::milliseconds(1000);
  const auto end = std::chrono::steady_clock::now() + kLockGrace;
  for (;;) {
    Result<std::optional<exec::UniqueFd>> taken = TryLockDir(path);
    if (!taken.ok() || *taken || std::chrono::steady_clock::now() >= end) return taken;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // flock has no timeout and no notification
  }
}

void Report(const ReaperOptions& o, std::vector<wire::JobResult> results) {
  if (results.empty() || o.worker_name.empty()) return;
  Result<std::optional<security::Credential>> credential =
      security::FindCredential(o.credentials, o.broker_host, o.broker_port);
  if (!credential.ok()) {
    spdlog::error("worker-reaper: cannot report worker {}'s last {} results: {}", o.worker_name,
                  results.size(), credential.message());
    return;
  }
  const size_t n = results.size();
  const ReportTarget target{.worker = o.worker_name,
                            .host = o.broker_host,
                            .port = o.broker_port,
                            .heartbeat_ms = o.heartbeat_ms,
                            .credential = std::move(*credential)};
  if (Status s = ReportResults(target, std::move(results), kReportDeadline); !s.ok()) {
    spdlog::warn("worker-reaper: worker {}'s runs that ended before it could report them run again: {}",
                 o.worker_name, s.message());
  } else {
    spdlog::info("worker-reaper: reported {} runs that ended before worker {} could report them", n,
                 o.worker_name);
  }
}

}  // namespace

int RunReaper(const ReaperOptions& o) {
  if (o.watch_runs) {  // up to 3 descriptors per watched run (WatchedRuns::kMaxWatched)
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
      files.rlim_cur = files.rlim_max;
      (void)::setrlimit(RLIMIT_NOFILE, &files);
    }
  }
  const exec::UniqueFd worker = exec::OpenPidFd(o.worker_pid);
  const std::optional<exec::ProcStat> st = exec::ReadProcStat(o.worker_pid);
  WatchedRuns watched;
  WaitForWorker(worker, st && st->start_time == o.worker_start, o.watch_runs, &watched);
  const auto worker_gone = std::chrono::steady_clock::now();
  std::optional<exec::UniqueFd> lock;  // held until the sweep is done: a restarted worker waits for it
  if (!o.lock.empty()) {
    Result<std::optional<exec::UniqueFd>> taken = TakeLockAfterWorker(o.lock);
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
  if (o.watch_runs && !watched.runs().empty()) {
    // The worker's last registration said how long (RunsGraceMs: the report below must reach the broker
    // before it requeues these runs itself); before any, as if the broker had no lease.
    const int64_t grace = watched.grace_ms().value_or(RunsGraceMs(o.heartbeat_ms, 0));
    const size_t left = LetRunsFinish(watched, worker_gone + std::chrono::milliseconds(grace));
    if (left > 0)
      spdlog::info("worker-reaper: {} of worker {}'s runs still running {} ms after it ended: ended with it",
                   left, o.worker_name, grace);
  }
  std::vector<wire::JobResult> results = ExitedRuns(watched);
  int ended = 0;
  for (const std::string& dir : o.cgroup_dirs) ended += exec::EndCgroupsUnder(dir, /*remove_dir=*/true);
  if (auto registry = exec::PidRegistry::OpenReadOnly(o.registry); registry.ok()) {
    if (auto n = registry->ReapLeftovers(std::chrono::milliseconds(0)); n.ok()) ended += n.value();
  } else {
    spdlog::error("worker-reaper: {}", registry.message());
  }
  if (ended > 0) spdlog::warn("worker-reaper: worker {} ended; ended {} of its jobs", o.worker_pid, ended);
  Report(o, std::move(results));
  return 0;
}

}  // namespace titan::worker
