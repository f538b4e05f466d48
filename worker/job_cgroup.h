// JobCgroup: one job's own cgroups, so that every process the job starts (with setsid too) can be found
// and killed when the job ends and is held to the job's limits (memory, cpu, cpuset, io, pids), and a
// worker's directories of them, so that what a killed worker's jobs left is ended by its reaper or its
// next life. On cgroup v2 a job has one cgroup; on v1 one in each hierarchy it needs (JobHierarchies).
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "base/status.h"
#include "worker/cgroup_files.h"
#include "worker/cgroup_pool.h"

namespace titan::exec {

// A directory name for one worker's job cgroups, unique on this machine: its name (reduced to letters,
// digits, '.', '-', '_') and a hash of its absolute data directory (two `titan up` clusters both
// have a worker named <host>-w1).
std::string WorkerCgroupKey(const std::string& worker_name, const std::string& data_dir);

// A worker's directories for its job cgroups.
struct WorkerCgroups {
  CgroupVersion version = CgroupVersion::kV1;
  CgroupDirs dirs;                   // the worker's directory in each hierarchy (cgroup_files.h)
  std::string primary;               // the key whose cgroup.procs lists a job's processes ("memory" on v1)
  std::vector<std::string> devices;  // block devices io limits apply to
  // The distinct directories, the primary first (hierarchies mounted together share one). Computed once
  // (OpenWorkerCgroups keeps it in `unique`; computed here when that is empty, e.g. a test's own struct).
  std::vector<std::string> Unique() const;
  std::vector<std::string> unique;
  std::vector<std::string> controls() const { return ControlsOf(version, dirs); }
  const char* via() const { return version == CgroupVersion::kV2 ? "cgroup v2" : "cgroup v1"; }
};

// The v1 hierarchies (keys of worker.dirs) a job with `limits` joins: the primary (its process list, and
// on "memory" its peak and OOM kills), cpuacct and blkio (its usage counters), and those its limits need:
// pids (max_processes), cpu (max_cpu), cpuset (cpu_cores), memory. Each one joined costs the job's start a
// cgroup migration, which takes a kernel-wide lock (about a millisecond here), so the rest are left out.
// On v2 the one directory.
std::vector<std::string> JobHierarchies(const WorkerCgroups& worker, const JobLimits& limits);

// Creates the directories for the job cgroups of the worker `key`: on cgroup v2 (`mount_root` is a
// cgroup2 mount) <our cgroup>/titan-<key>, with the controllers it may delegate enabled below it; on v1
// <mount_root>/<controller>/<our cgroup there>/titan/<key> in each of the memory, pids, cpu, cpuacct,
// cpuset and blkio hierarchies that is mounted and writable (cpuset levels get their parent's cpus and
// mems). Error (the caller falls back to process groups and says that setsid escapes are possible, and
// enforces no cgroup limit): no such hierarchy is mounted, or none is writable here.
Result<WorkerCgroups> OpenWorkerCgroups(const std::string& key,
                                        const std::string& mount_root = "/sys/fs/cgroup");

// Ends every job cgroup under `dir` (their processes are SIGKILLed until none is left) and removes
// them, and `dir` itself when `remove_dir`. For a worker starting (its previous life's), for its reaper
// and at its exit. Returns how many cgroups still had processes. Blocks up to ~1 s per stubborn cgroup.
int EndCgroupsUnder(const std::string& dir, bool remove_dir);

// One job's cgroup. Move-only; the destructor ends it (End()).
class JobCgroup {
 public:
  // Creates the cgroup directory `path` (one hierarchy, no limits); one left there (an earlier run of the
  // job) is ended first. Error: mkdir failed (named).
  static Result<JobCgroup> Create(std::string path);
  // Creates the job's cgroup `name` in each hierarchy of JobHierarchies(worker, limits) and writes `limits`
  // into them before any process joins. Error: a directory or a limit could not be made (named); nothing
  // is left.
  // With `pool` (the worker's; it must outlive the handle), a job that fits it (CgroupPool::Fits) takes
  // an idle cgroup of the pool, or a new one the pool names, and its cgroup goes back to the pool at End.
  static Result<JobCgroup> Create(const WorkerCgroups& worker, const std::string& name,
                                  const JobLimits& limits, CgroupPool* pool = nullptr);

  JobCgroup() = default;  // holds no cgroup
  JobCgroup(JobCgroup&& other) noexcept;
  JobCgroup& operator=(JobCgroup&& other) noexcept;  // ends the cgroup this handle held
  JobCgroup(const JobCgroup&) = delete;
  JobCgroup& operator=(const JobCgroup&) = delete;
  ~JobCgroup() { (void)End(); }

  const std::string& path() const { return path_; }  // the primary cgroup; "" when empty
  // Every cgroup of the job, the primary first: a process joins them all (SpawnSpec::cgroups).
  const std::vector<std::string>& paths() const { return paths_; }
  // What the job's processes used so far (its cgroups' counters).
  CgroupUsage Usage() const;
  // Descriptors of paths()' cgroup.procs, open for writing, kept with a pooled cgroup (SpawnSpec::
  // cgroup_procs_fds: the job joins without opening them); empty when not pooled or one cannot be opened.
  std::vector<int> ProcsFds();
  // Whether the cgroup came from (and goes back to) a CgroupPool.
  bool pooled() const { return pool_ != nullptr; }
  // Sends `sig` to every process in the cgroup now (one pass; no waiting).
  void Signal(int sig) const;
  // SIGKILLs every process in the cgroup until none is left (within `limit`), then removes it, or gives
  // it back to its pool; the handle is empty afterwards. Error: processes still there, or rmdir failed
  // (the directory is then left for EndCgroupsUnder).
  Status End(std::chrono::milliseconds limit = std::chrono::seconds(1));

 private:
  explicit JobCgroup(std::string path) : path_(path), paths_{std::move(path)} {}
  std::string path_;
  std::vector<std::string> paths_;
  CgroupVersion version_ = CgroupVersion::kV1;
  CgroupDirs dirs_;                         // by hierarchy key, for Usage
  CgroupPool* pool_ = nullptr;              // where End gives the emptied cgroup back; null: removed
  int64_t oom_kills_before_ = 0;            // a pooled cgroup's OOM-kill count before this job
  std::unique_ptr<CgroupFileCache> files_;  // a pooled cgroup's open files (IdleCgroup::files)
};

}  // namespace titan::exec
