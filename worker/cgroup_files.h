// The files of a job's cgroups: writing its limits before any process joins, reading what it used, and
// which limits a worker's cgroup directories can enforce. Plain file I/O on the directories given, so
// that tests run against a fake tree in a temporary directory (docs/job-control.md, "Limits").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace titan::exec {

// A job's limits (JobSpec); 0 or "" means none.
struct JobLimits {
  int64_t memory_mb = 0;    // max_memory: MB for all its processes together
  int64_t cpu_percent = 0;  // max_cpu: percent of one core (150 = 1.5 cores), a CFS quota
  std::string cpus;         // cpu_cores: "0-1", "2,4"
  int64_t iobps = 0;        // max_iobps: bytes/s read, and written, on each block device
  int64_t processes = 0;    // max_processes: processes and threads at once
};

enum class CgroupVersion { kV1, kV2 };

// Cgroup directories by hierarchy: on v1 one per controller ("pids", "memory", "cpu", "cpuacct",
// "cpuset", "blkio"); on v2 one, under the key "".
using CgroupDirs = std::map<std::string, std::string>;

// Open descriptors of one job cgroup's files, kept for as long as the cgroup is (a pooled one: CgroupPool),
// so that a reused cgroup's counters are read and reset, and a job joins it, without opening the files
// again. The kernel makes a cgroup file's text anew for each read at offset 0 (pread), except the v1
// process lists (cgroup.procs, tasks), which it caches per open file for a second: those are never read
// through a descriptor kept here (one of cgroup.procs is for joining, write-only; ReadProcessList opens
// the list anew relative to the kept directory). Move-only.
class CgroupFileCache {
 public:
  // The descriptor of `path` opened with `flags` (O_RDONLY, O_WRONLY, or O_PATH | O_DIRECTORY for a
  // cgroup's directory; close-on-exec), opened on first use and kept; -1 (errno set) when it cannot be
  // opened.
  int Fd(const std::string& path, int flags);

 private:
  std::map<std::pair<std::string, int>, UniqueFd> fds_;
};

// The controls of the protocol (WORKER_READY.controls) each limit needs.
inline constexpr const char* kControls[] = {"memory", "cpu", "cpuset", "io", "pids"};

// What a job's cgroups counted (absent: not measured there).
struct CgroupUsage {
  std::optional<int64_t> peak_memory_bytes;
  std::optional<int64_t> cpu_ms;
  std::optional<int64_t> io_read_bytes, io_write_bytes;
  int64_t oom_kills = 0;  // processes the kernel killed for its memory limit
};

// The controls (of kControls) that the worker's directories `dirs` can enforce: on v1 a hierarchy whose
// limit file is there (memory.limit_in_bytes, cpu.cfs_quota_us, cpuset.cpus, blkio.throttle.read_bps_device,
// pids.max); on v2 the controllers enabled in the directory's cgroup.subtree_control.
std::vector<std::string> ControlsOf(CgroupVersion v, const CgroupDirs& dirs);

// v2: enables every controller of kControls that `dir` may use (its cgroup.controllers) for the cgroups
// below it (its cgroup.subtree_control), first asking its parent for those it lacks. Best effort: what
// cannot be enabled is simply absent from ControlsOf.
void EnableV2Controllers(const std::string& dir);

// v1 cpuset: a new cgroup takes no process until cpuset.cpus and cpuset.mems are set; copies them
// from its parent when empty. Error names the file.
Status InheritCpuset(const std::string& dir);

// Writes `limits` into a job's new, empty cgroups `job` (same keys as the worker's). `devices` are the
// block devices ("MAJ:MIN") io limits apply to. Error: a limit whose files are missing or refuse the
// value (named, with the value).
Status ApplyLimits(CgroupVersion v, const CgroupDirs& job, const JobLimits& limits,
                   const std::vector<std::string>& devices);

// Reads a job's counters: v1 memory.max_usage_in_bytes, cpuacct.usage, blkio.throttle.io_service_bytes,
// memory.oom_control's oom_kill; v2 memory.peak, cpu.stat usage_usec, io.stat rbytes/wbytes,
// memory.events oom_kill.
// With `cache`, through the descriptors it keeps.
CgroupUsage ReadUsage(CgroupVersion v, const CgroupDirs& job, CgroupFileCache* cache = nullptr);

// The whole of a cgroup file (or any file), read with open/read, or with pread at 0 from a descriptor
// `cache` keeps; nullopt when it cannot be opened or read (a cgroup that is gone).
std::optional<std::string> ReadCgroupFile(const std::string& path, CgroupFileCache* cache = nullptr);

// The text of a cgroup's process list (cgroup.procs), from a file opened for this read alone: a v1 kernel
// caches the list per open file. With `cache`, opened relative to the cgroup directory's descriptor the
// cache keeps (O_PATH), without a walk of the cgroup's long path. nullopt: the cgroup is gone or cannot be
// read.
std::optional<std::string> ReadProcessList(const std::string& cgroup, CgroupFileCache* cache = nullptr);

// What a v1 job cgroup still holds once its processes are gone, which the next job's counts start from.
struct CarriedUsage {
  int64_t memory_bytes = 0;  // still charged (page cache); memory.max_usage_in_bytes now starts here
  int64_t oom_kills = 0;     // memory.oom_control's oom_kill, which cannot be reset
};

// Resets an emptied v1 job cgroup's counters for another job (CgroupPool): memory.max_usage_in_bytes
// (to what is still charged), cpuacct.usage, the blkio stats. Error: cgroup v2, or a file that cannot be
// read or written (named). With `cache`, through the descriptors it keeps.
Result<CarriedUsage> ResetUsage(CgroupVersion v, const CgroupDirs& job, CgroupFileCache* cache = nullptr);

// The whole-disk block devices of this machine ("MAJ:MIN" of each <sys_block>/<name>/dev), the ones
// an io limit is written for.
std::vector<std::string> BlockDevices(const std::string& sys_block = "/sys/block");

}  // namespace titan::exec
