// LogStore: each job's combined stdout+stderr as one append-only file under <dir>/logs/. Offsets are
// byte positions in that file; clients read from any offset. Logs are not fsynced: they are output,
// not acknowledged state.
#pragma once

#include <cstdint>
#include <string>

namespace titan::broker {

class LogStore {
 public:
  explicit LogStore(std::string dir);

  // Appends `bytes`; returns the offset they start at (or -1 when the file cannot be written).
  int64_t Append(const std::string& job_id, std::string_view bytes);
  // Up to `max_bytes` from `offset`; empty at or past the end.
  std::string Read(const std::string& job_id, int64_t offset, int64_t max_bytes) const;
  int64_t Size(const std::string& job_id) const;
  // Deletes the job's log (journal retention); a log that is not there is no error.
  void Remove(const std::string& job_id);

 private:
  std::string PathOf(const std::string& job_id) const;
  std::string dir_;
};

}  // namespace titan::broker
