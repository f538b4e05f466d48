// PidRegistry: the worker's on-disk list of the job process groups it runs, so that a worker starting
// after a crash can end the groups its predecessor left behind, and only those.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/status.h"
#include "base/unique_fd.h"

namespace titan::exec {

// The fields of /proc/<pid>/stat the registry needs.
struct ProcStat {
  char state = '?';         // 'R', 'S', 'Z', ...
  pid_t pgrp = 0;           // process-group id
  uint64_t start_time = 0;  // field 22: clock ticks after boot; with the pid, identifies one process
  std::optional<int> exit_code;  // field 52 (Linux 3.5+): a zombie's wait status (0 while it runs)
};
// nullopt when the process does not exist (or /proc cannot be read).
std::optional<ProcStat> ReadProcStat(pid_t pid);

// An append-only log of the process groups one worker runs: "<pgid> <leader start time>" records a
// group, "- <pgid>" forgets it, later lines win. A change is one short append (no new file, no rename:
// creating and deleting a file per job is what made ext4 without a journal slow), so a crashed worker
// leaves every change it made before the crash; a torn last line (machine crash) does not parse and is
// skipped. The log is compacted (temp file, then rename: old or new list at every instant) when it is
// opened and when it holds many more lines than live groups. Single owner: one worker per file, calls
// from its loop thread only.
class PidRegistry {
 public:
  // Loads `path`; a missing file is an empty registry (created on the first change). Lines that do not
  // parse are skipped with a warning. Error: the file exists but cannot be read.
  static Result<PidRegistry> Open(std::string path);
  // The same, for reading only: never compacts or writes the file (a worker's reaper reads the registry
  // of a worker that may be restarting and rewriting it).
  static Result<PidRegistry> OpenReadOnly(std::string path);

  PidRegistry(PidRegistry&&) = default;
  PidRegistry& operator=(PidRegistry&&) = default;

  // Records the group led by `pgid`, with the leader's start time `start_time` when the caller measured
  // it (ChildProcess::start_time), else taken from /proc. Error: the leader does not exist, or the file
  // cannot be written (the entry is then kept in memory only).
  Status Add(pid_t pgid, std::optional<uint64_t> start_time = std::nullopt);
  // Same with a given start time (for a group handed over from elsewhere, and for tests).
  Status AddWithStartTime(pid_t pgid, uint64_t start_time);
  // Forgets `pgid`; a pgid not recorded is fine. Error: the file cannot be written.
  Status Remove(pid_t pgid);

  // For a worker starting up, before its loop, and for the reaper of a worker that died: each recorded
  // group whose leader still exists with the recorded start time and which has a live (non-zombie)
  // member, or whose leader is gone (killed by its parent-death signal with the worker) while members
  // that started after it live on, gets SIGTERM (group and leader); groups still alive after `grace`
  // get SIGKILL (then up to 1 s more is allowed for them to go). Groups whose leader is another
  // process with a recycled pid are not touched. Blocks, polling /proc every 20 ms. Returns how many
  // groups it ended, and clears the registry (file included, unless opened read-only).
  Result<int> ReapLeftovers(std::chrono::milliseconds grace = std::chrono::seconds(2));

  // "pgid@start pgid@start ..." in pgid order; "" when empty.
  std::string Render() const;
  size_t size() const { return groups_.size(); }
  const std::string& path() const { return path_; }

 private:
  explicit PidRegistry(std::string path) : path_(std::move(path)) {}
  // Reads the file into groups_ and lines_; a missing file is an empty registry.
  Status Load();
  // Appends one line (opening the log on first use). Compacts first when the log has grown past
  // kCompactMinLines and 4x the live groups.
  Status Append(const std::string& line);
  // Rewrites the log as the live groups only, atomically; the next Append reopens it.
  Status Compact();

  std::string path_;
  bool read_only_ = false;
  std::map<pid_t, uint64_t> groups_;  // pgid -> leader start time
  UniqueFd log_;                      // O_APPEND, opened lazily
  size_t lines_ = 0;                  // entry lines in the file now (live or not)
};

}  // namespace titan::exec
