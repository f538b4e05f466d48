// CgroupPool: a worker's emptied job cgroups, kept for the next job instead of being removed. Creating
// and removing a job's cgroups (three hierarchies on v1: memory, cpuacct, blkio) costs the worker's loop
// a mkdir and an rmdir in each, with the kernel's per-CPU state for each new cgroup; a job without limits
// takes an idle one instead, with its counters reset. Owned by the worker's loop; one thread.
//
// What a reused cgroup may carry over, and the bound on it: only memory still charged to it (page cache
// the last job read or wrote, which stays charged after its processes exit). A cgroup charged more than
// kMaxCarriedBytes when its job ends is removed, not kept, so a job's reported peak memory is high by at
// most that much. Nothing else carries over: a cgroup is kept only once no process is left in it.
//
// Only on cgroup v1, where every counter a job reports can be reset (memory.max_usage_in_bytes,
// cpuacct.usage, blkio.reset_stats) or read as a baseline (the OOM-kill count). On v2, cpu.stat and
// io.stat cannot be reset, and jobs get fresh cgroups as before.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "worker/cgroup_files.h"

namespace titan::exec {

struct WorkerCgroups;

// An emptied job cgroup: its directory in each hierarchy it has, as JobCgroup holds them.
struct IdleCgroup {
  std::vector<std::string> paths;  // the primary first (SpawnSpec::cgroups)
  CgroupDirs dirs;                 // by hierarchy key
  int64_t oom_kills_before = 0;    // the cgroup's OOM-kill count when it was emptied: the next job's baseline
  // Its counter files and cgroup.procs (for joining), open: kept with it while the pool holds at most
  // kMaxWithFiles idle cgroups (about 10 descriptors each); null: opened again by the next job.
  std::unique_ptr<CgroupFileCache> files;
};

class CgroupPool {
 public:
  static constexpr size_t kMaxIdle = 64;                // more idle cgroups than this are removed
  static constexpr int64_t kMaxCarriedBytes = 1 << 20;  // memory still charged: above it, removed
  static constexpr size_t kMaxWithFiles = 16;           // idle cgroups beyond this many close their files

  explicit CgroupPool(const WorkerCgroups& worker);
  ~CgroupPool();  // removes the idle cgroups
  CgroupPool(const CgroupPool&) = delete;
  CgroupPool& operator=(const CgroupPool&) = delete;

  // Whether a job with `limits` may run in a pooled cgroup: cgroup v1 and no limit at all (a limit's
  // hierarchy and value would have to be undone before the next job).
  bool Fits(const JobLimits& limits) const;
  // An idle cgroup, counters reset when it was kept; nullopt when none is idle.
  std::optional<IdleCgroup> Take();
  // A name for a new pooled cgroup, unique among this pool's: "pool-<n>".
  std::string NewName();
  // Keeps `cgroup`, whose processes are all gone, for a later job: resets its counters and reads its
  // OOM-kill count. False when it is not kept (the pool is full, memory is still charged to it over
  // kMaxCarriedBytes, or a reset failed): the caller removes it.
  bool Keep(IdleCgroup cgroup);

  size_t idle() const { return idle_.size(); }

 private:
  bool enabled_;
  std::vector<IdleCgroup> idle_;
  uint64_t next_name_ = 0;
};

}  // namespace titan::exec
