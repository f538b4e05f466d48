// ReadOnlyMode: a node whose disk is full. A write that failed for lack of space puts the node in
// read-only mode: it refuses writes with one sentence saying where and what to do (Refusal), keeps
// serving reads, and probes its storage until a write succeeds again, then leaves by itself.
// Pure: no clock, no I/O. The caller passes the time, probes, and logs the lines it is handed: one on
// entering and one on leaving, at most kLoggedPerHour entries an hour, so a disk hovering at full does
// not flood the log. One per node loop; not thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "base/log_limiter.h"
#include "base/status.h"

namespace titan {

class ReadOnlyMode {
 public:
  static constexpr int64_t kProbeEveryMs = 1000;  // how often a read-only node tries a write again
  static constexpr int64_t kLoggedPerHour = 10;

  // `node` names the process in messages ("broker", "store").
  explicit ReadOnlyMode(std::string node);

  // A write failed for lack of space (`cause` names the file) in `dir`, the folder to free space in:
  // read-only from now. Returns the line to log: empty when it already was read-only, or when entries
  // are being rate-limited.
  std::string Enter(const Status& cause, std::string dir, int64_t mono_ms, int64_t wall_ms);
  // A probe succeeded: writable again. Returns the line to log (empty when it was not read-only, or
  // when its entry was not logged either).
  std::string Leave(int64_t mono_ms);

  bool active() const { return active_; }
  const std::string& cause() const { return cause_; }  // the failure that began it; empty when writable
  int64_t since_wall_ms() const { return since_wall_ms_; }
  const std::string& dir() const { return dir_; }
  // ERROR UNAVAILABLE's reason for a refused write: "disk full on the <node> (<dir>); free space there,
  // Titan resumes by itself".
  std::string Refusal() const;

 private:
  std::string node_, dir_;
  bool active_ = false;
  bool logged_ = false;  // the entry was logged, so its end is too
  std::string cause_;
  int64_t since_mono_ms_ = 0;
  int64_t since_wall_ms_ = 0;
  LogLimiter limiter_;
};

}  // namespace titan
