// OutputCapture drains a job's stdout or stderr pipe from the poll loop; JobLog appends those bytes to
// the job's log file and hands them on as numbered lines. Both are owned and called by the loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace titan::exec {

enum class Stream { kStdout, kStderr };
std::string_view StreamName(Stream stream);  // "stdout" / "stderr"

struct OutputLine {
  Stream stream;
  uint64_t seq;           // per job across both streams: 0, 1, 2, ... with no gaps
  std::string_view text;  // without its '\n'; valid only during the callback
  bool complete;          // false for a piece of an over-long line or an unterminated last line at EOF
};
using LineSink = std::function<void(const OutputLine&)>;

struct CaptureLimits {
  size_t read_size = 64 * 1024;  // bytes asked for per read()
  int max_reads_per_call = 16;   // so one chatty job cannot starve the loop (~1 MiB per OnReadable)
};

// One job's log file and line numbering. Lines from stdout and stderr interleave in the file as whole
// lines (or whole pieces of over-long lines), never mid-line. A line longer than max_line is handed on
// as pieces of exactly max_line bytes (complete=false) followed by its rest (complete=true), wherever
// the read boundaries fell.
class JobLog {
 public:
  // A log that appends to `path`, opened (created) at the first output, so that a job that prints
  // nothing costs its worker no file. A file that cannot be opened then makes the log truncated() with
  // that error ("cannot open job log ..."; the next output tries again); the lines still go to the sink.
  // The sink may be empty (log file only).
  static std::unique_ptr<JobLog> Open(const std::string& path, LineSink sink, size_t max_line = 64 * 1024);

  // Writes `bytes` to the file, then calls the sink once per line. `bytes` must start at a line start
  // (or a max_line boundary inside a line); a tail without '\n' becomes one incomplete piece.
  // A write the file cannot take (a full disk) does not stop the output: what was written of `bytes` is
  // cut off again (the file keeps whole pieces), the lines still go to the sink, and truncated() says
  // the file misses some; the first such error is kept (truncation()), and Append returns Ok.
  Status Append(Stream stream, std::string_view bytes);
  // From now on each exact occurrence of one of `secrets` in what Append is given is written and
  // handed on as "****" (secret_mask.h). A secret that spans two pieces of an over-long line
  // (max_line bytes each) is not found.
  void MaskSecrets(std::vector<std::string> secrets) { secrets_ = std::move(secrets); }

  uint64_t lines() const { return next_seq_; }  // lines handed on so far
  bool truncated() const { return !truncation_.ok(); }
  const Status& truncation() const { return truncation_; }  // the first write the file could not take
  const std::string& path() const { return path_; }
  size_t max_line() const { return max_line_; }

 private:
  JobLog(std::string path, LineSink sink, size_t max_line);
  void Deliver(Stream stream, std::string_view text, bool complete);
  void Write(std::string_view bytes);  // to the file, whole or not at all
  bool OpenFile();                     // at the first Write; false (truncation_ set) when it cannot

  std::string path_;
  UniqueFd fd_;  // opened by the first Write (again by the next one, when it could not be)
  LineSink sink_;
  size_t max_line_;
  uint64_t next_seq_ = 0;
  int64_t size_ = 0;  // the file's size once open: where a write that failed halfway is cut back to
  Status truncation_;
  std::vector<std::string> secrets_;
};

// Drains one non-blocking fd into a JobLog. Does not own the fd (ChildProcess does) nor the log,
// and both must outlive it.
class OutputCapture {
 public:
  OutputCapture(int fd, Stream stream, JobLog* log, CaptureLimits limits = {});

  // Call when poll reports the fd readable or hung up. Reads until EAGAIN, EOF or the per-call read
  // budget; a return with !eof() and no error means "call again when readable" (data may remain).
  // At EOF an unterminated last line is flushed. A read error ends the capture (eof() becomes true)
  // and is returned; the caller decides whether the job goes on without its output. A log file that
  // cannot take the output (a full disk) does not end it: see JobLog::Append.
  Status OnReadable();

  bool eof() const { return eof_; }
  int fd() const { return fd_; }
  uint64_t bytes() const { return bytes_; }  // bytes read so far

 private:
  Status Flush(bool at_eof);

  int fd_;
  Stream stream_;
  JobLog* log_;
  CaptureLimits limits_;
  std::unique_ptr<char[]> buf_;  // max_line + read_size; holds at most max_line bytes between calls
  size_t len_ = 0;
  uint64_t bytes_ = 0;
  bool eof_ = false;
};

}  // namespace titan::exec
