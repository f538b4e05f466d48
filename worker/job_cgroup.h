// JobCgroup: one job's own cgroup, so that every process the job starts (with setsid too) can be found
// and killed when the job ends, and a worker's directory of them, so that what a killed worker's jobs
// left is ended by its reaper or its next life. The job-control issue adds resource limits (memory,
// cpu controllers) to the same per-job cgroups.
#pragma once

#include <chrono>
#include <string>

#include "base/status.h"

namespace titan::exec {

// A directory name for one worker's job cgroups, unique on this machine: its name (reduced to letters,
// digits, '.', '-', '_') and a hash of its absolute data directory (two `titan up` clusters both
// have a worker named <host>-w1).
std::string WorkerCgroupKey(const std::string& worker_name, const std::string& data_dir);

// Creates and returns the directory for the job cgroups of the worker `key`: on cgroup v2 (`mount_root`
// is a cgroup2 mount) <our cgroup>/titan-<key>, on v1 in the pids hierarchy
// <mount_root>/pids/<our pids cgroup>/titan/<key>. Error (the caller falls back to process groups and
// says that setsid escapes are possible): no such hierarchy is mounted, or it is not writable here.
Result<std::string> OpenWorkerCgroupDir(const std::string& key,
                                        const std::string& mount_root = "/sys/fs/cgroup");

// Ends every job cgroup under `dir` (their processes are SIGKILLed until none is left) and removes
// them, and `dir` itself when `remove_dir`. For a worker starting (its previous life's), for its reaper
// and at its exit. Returns how many cgroups still had processes. Blocks up to ~1 s per stubborn cgroup.
int EndCgroupsUnder(const std::string& dir, bool remove_dir);

// One job's cgroup. Move-only; the destructor ends it (End()).
class JobCgroup {
 public:
  // Creates the cgroup directory `path`; one left there (an earlier run of the job) is ended first.
  // Error: mkdir failed (named).
  static Result<JobCgroup> Create(std::string path);

  JobCgroup() = default;  // holds no cgroup
  JobCgroup(JobCgroup&& other) noexcept;
  JobCgroup& operator=(JobCgroup&& other) noexcept;  // ends the cgroup this handle held
  JobCgroup(const JobCgroup&) = delete;
  JobCgroup& operator=(const JobCgroup&) = delete;
  ~JobCgroup() { (void)End(); }

  const std::string& path() const { return path_; }  // "" when empty
  // Sends `sig` to every process in the cgroup now (one pass; no waiting).
  void Signal(int sig) const;
  // SIGKILLs every process in the cgroup until none is left (within `limit`), then removes it; the
  // handle is empty afterwards. Error: processes still there, or rmdir failed (the directory is then
  // left for EndCgroupsUnder).
  Status End(std::chrono::milliseconds limit = std::chrono::seconds(1));

 private:
  explicit JobCgroup(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

}  // namespace titan::exec
