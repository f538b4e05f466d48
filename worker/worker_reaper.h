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
};

// `<exe> worker-reaper --worker-pid P --worker-start T --registry R [--cgroup-dir C]... [--lock L]
// [--log-format F]`.
std::vector<std::string> ReaperArgv(const std::string& exe, const ReaperOptions& o);

// Starts the reaper of this process (its own process group, no parent-death signal: it must outlive
// us), its output appended to `log`. The handle kills it when destroyed, for a worker that ended its
// jobs itself. Error: the spawn failed (named).
Result<exec::ChildProcess> StartReaper(const std::string& exe, const ReaperOptions& o,
                                       const std::string& log);

// The reaper's body: waits for the worker to end (a pidfd; at once if it is gone already), takes its
// lock, then ends its job cgroups and what its registry lists (read-only), and releases the lock. When a
// worker restarted on the same --dir took the lock first, it sweeps nothing: that worker ended the
// leftovers at its start, and its own jobs now live in the same cgroup directories. Returns the exit code.
int RunReaper(const ReaperOptions& o);

}  // namespace titan::worker
