// <keys>/jobs.log: the public keys of the credentials of running jobs (docs/security.md, "Jobs"), as an
// append-only log of one line per change:
//   + job-<id> <public key>     a run started: its credential is admitted
//   - job-<id>                  the run left RUNNING: it is revoked
// The broker writes it (JobKeyWriter) and every other node that reads the keys folder follows it
// (JobKeyReader), reading only what was appended since it last read, so the cost of a run's key is a
// line, not a rewrite of every running job's. Public keys only; no fsync: a lost tail costs running jobs
// their access to other nodes, nothing else. When most lines are dead the writer compacts the log (a
// fresh file with the live keys, renamed into place, whose first line "# titan jobs log <random>" tells
// it from every earlier one); a reader notices the new file and reads it whole.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/status.h"
#include "base/unique_fd.h"
#include "security/principals.h"

namespace titan::security {

class JobKeyWriter {
 public:
  explicit JobKeyWriter(std::string path) : path_(std::move(path)) {}

  void Added(const Principal& job) { pending_ += "+ " + job.name + " " + job.public_key + "\n"; }
  void Removed(const std::string& name) { pending_ += "- " + name + "\n"; }
  bool dirty() const { return !pending_.empty() || !fd_.valid(); }
  // Appends what changed since the last Flush in one write. The first Flush, and any once the log is
  // over 64 KiB and four times the size of the `live` keys, writes a fresh file instead.
  Status Flush(const Principals& live);

 private:
  Status Compact(const Principals& live);

  std::string path_;
  std::string pending_;
  exec::UniqueFd fd_;  // O_APPEND on the current file
  size_t size_ = 0;    // bytes in the current file
};

class JobKeyReader {
 public:
  explicit JobKeyReader(std::string path) : path_(std::move(path)) {}

  // Applies to *jobs what was appended since the last call; a replaced file (compacted: another inode, or
  // shorter than what was read) is read from its start into an empty set. An absent file is an empty set.
  // Lines that are not a well-formed change are skipped and counted in the error, which names the file.
  Status Follow(Principals* jobs);

 private:
  std::string path_;
  ino_t inode_ = 0;
  off_t offset_ = 0;
  std::string header_;   // the file's first line (up to 64 bytes), as read
  std::string partial_;  // a last line without its '\n' yet
};

}  // namespace titan::security
