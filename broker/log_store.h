// LogStore: each job's combined stdout+stderr as one append-only file under <dir>/logs/. Offsets are
// byte positions in that file; clients read from any offset. Logs are not fsynced: they are output,
// not acknowledged state.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace titan::broker {

class LogStore {
 public:
  explicit LogStore(std::string dir);

  // Appends `bytes`; returns the offset they start at. A chunk is kept whole or not at all: when the
  // file cannot take all of it (IsOutOfSpace: the disk is full), what was written of it is cut off
  // again and the error names the file.
  Result<int64_t> Append(const std::string& job_id, std::string_view bytes);
  // Up to `max_bytes` from `offset`; empty at or past the end.
  std::string Read(const std::string& job_id, int64_t offset, int64_t max_bytes) const;
  int64_t Size(const std::string& job_id) const;
  // Deletes the job's log (journal retention); a log that is not there is no error.
  void Remove(const std::string& job_id);
  // Whether the folder can take a log chunk again (after a full disk): a small file written, then removed.
  Status ProbeSpace() const;

 private:
  std::string PathOf(const std::string& job_id) const;
  std::string dir_;
};

}  // namespace titan::broker
