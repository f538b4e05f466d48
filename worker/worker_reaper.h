// WorkerReaper: a small process each worker starts (`titan worker-reaper`) that outlives it. When the
// worker ends, however it ends (kill -9 included), the reaper ends the job process groups left in the
// worker's PID registry and the worker's job cgroups, so a dead worker's jobs do not run on beside
// their requeued copies. A job's leader already dies with the worker (its parent-death signal); the
// reaper is for the rest of its group and its cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "worker/child_process.h"

namespace titan::worker {

struct ReaperOptions {
  pid_t worker_pid = 0;
  uint64_t worker_start = 0;  // the worker's start time (/proc/<pid>/stat), so a recycled pid is not it
  std::string registry;       // the worker's PID registry file
  // The worker's job cgroup directories (job_cgroup.h), one per hierarchy, the primary first; empty: none.
  std::vector<std::string> cgroup_dirs;
  // The worker's DirLock (dir_lock.h): taken before the sweep; held by another process means a worker
  // restarted on the same --dir, which ends the leftovers itself, so the reaper sweeps nothing. Empty: none.
  std::string lock;
  // The worker's --log-format: the reaper's lines go to the same log stack.
  std::string log_format = "text";
  // The worker hands over a pidfd (and the output pipes) of each run it starts on the reaper's stdin
  // (reaper_runs.h). When the worker dies, its runs get the grace the worker last passed on (RunsGraceMs;
  // none yet: as for `heartbeat_ms` without a lease) to finish; those whose processes exited are reported
  // to its broker (reaper_report.h) as the worker named `worker_name`, with its credential file (empty:
  // none), after the sweep.
  bool watch_runs = false;
  std::string worker_name;
  std::string broker_host;
  int broker_port = 0;
  int heartbeat_ms = 1000;
  std::string credentials;
};

// `<exe> worker-reaper --worker-pid P --worker-start T --registry R [--cgroup-dir C]... [--lock L]
// [--log-format F] [--watch-runs --worker-name N --broker-host H --broker-port P --heartbeat-ms M
// [--credentials F]]`.
std::vector<std::string> ReaperArgv(const std::string& exe, const ReaperOptions& o);

// Starts the reaper of this process (its own process group, no parent-death signal: it must outlive
// us), its output appended to `log`, `runs` (the reaper's end of the socketpair runs are handed over on,
// for watch_runs; else -1) as its stdin. The handle kills it when destroyed, for a worker that ended its
// jobs itself. Error: the spawn failed (named).
Result<exec::ChildProcess> StartReaper(const std::string& exe, const ReaperOptions& o, const std::string& log,
                                       int runs = -1);

// The reaper's body: waits for the worker to end (a pidfd; at once if it is gone already), keeping the
// runs handed over meanwhile (watch_runs), takes its lock, notes which of those runs had exited on their
// own, ends its job cgroups and what its registry lists (read-only), reports the exited runs' results to
// the broker, and releases the lock. When a worker restarted on the same --dir took the lock first, it
// does none of that: that worker ended the leftovers at its start, its own jobs now live in the same
// cgroup directories, and it has registered under the name. Returns the exit code.
int RunReaper(const ReaperOptions& o);

}  // namespace titan::worker
