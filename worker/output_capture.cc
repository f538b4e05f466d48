// OutputCapture / JobLog: pipe bytes -> log file (in whole lines) -> numbered lines for the sink.
#include "worker/output_capture.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cassert>

#include "worker/secret_mask.h"

namespace titan::exec {

std::string_view StreamName(Stream stream) { return stream == Stream::kStdout ? "stdout" : "stderr"; }

std::unique_ptr<JobLog> JobLog::Open(const std::string& path, LineSink sink, size_t max_line) {
  assert(max_line > 0);
  return std::unique_ptr<JobLog>(new JobLog(path, std::move(sink), max_line));
}

JobLog::JobLog(std::string path, LineSink sink, size_t max_line)
    : path_(std::move(path)), sink_(std::move(sink)), max_line_(max_line) {}

bool JobLog::OpenFile() {
  if (fd_.valid()) return true;
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {  // tried again with the next output (a disk freed)
    if (truncation_.ok()) truncation_ = ErrnoStatus("cannot open job log '" + path_ + "'", errno);
    return false;
  }
  fd_ = std::move(fd);
  size_ = st.st_size;  // an earlier attempt's output stays: this one appends
  return true;
}

void JobLog::Write(std::string_view bytes) {
  if (bytes.empty() || !OpenFile()) return;
  if (Status s = WriteAll(fd_.get(), bytes, "job log '" + path_ + "'"); !s.ok()) {
    const int cut = ::ftruncate(fd_.get(), size_);  // a shrink needs no space
    (void)cut;
    if (truncation_.ok()) truncation_ = std::move(s);
    return;
  }
  size_ += static_cast<int64_t>(bytes.size());
}

Status JobLog::Append(Stream stream, std::string_view given) {
  std::string masked;
  if (!secrets_.empty()) masked = exec::MaskSecrets(given, secrets_);
  const std::string_view bytes = secrets_.empty() ? given : std::string_view(masked);
  Write(bytes);
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t nl = bytes.find('\n', pos);
    const size_t end = nl == std::string_view::npos ? bytes.size() : nl;
    while (end - pos > max_line_) {
      Deliver(stream, bytes.substr(pos, max_line_), false);
      pos += max_line_;
    }
    Deliver(stream, bytes.substr(pos, end - pos), nl != std::string_view::npos);
    pos = nl == std::string_view::npos ? end : nl + 1;
  }
  return Status::Ok();
}

void JobLog::Deliver(Stream stream, std::string_view text, bool complete) {
  const uint64_t seq = next_seq_++;
  if (sink_) sink_(OutputLine{stream, seq, text, complete});
}

OutputCapture::OutputCapture(int fd, Stream stream, JobLog* log, CaptureLimits limits)
    : fd_(fd), stream_(stream), log_(log), limits_(limits) {
  assert(limits.read_size > 0 && limits.max_reads_per_call > 0);
}

Status OutputCapture::OnReadable() {
  // Allocated on first use and not zeroed: most jobs print little, many print nothing.
  if (!buf_) buf_ = std::make_unique_for_overwrite<char[]>(log_->max_line() + limits_.read_size);
  for (int i = 0; i < limits_.max_reads_per_call && !eof_; ++i) {
    // Flush leaves at most max_line bytes, so read_size always fits.
    const ssize_t n = ::read(fd_, buf_.get() + len_, limits_.read_size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::Ok();
    if (n < 0) {
      const int err = errno;
      eof_ = true;
      Status flushed = Flush(true);  // keep what we already have
      (void)flushed;
      return ErrnoStatus("cannot read job " + std::string(StreamName(stream_)), err);
    }
    if (n == 0) eof_ = true;
    len_ += static_cast<size_t>(n);
    bytes_ += static_cast<uint64_t>(n);
    if (Status s = Flush(eof_); !s.ok()) {
      eof_ = true;
      return s;
    }
  }
  return Status::Ok();
}

// Hands the log every complete line in the buffer plus, while the unterminated tail is longer than
// max_line, whole max_line pieces of it (always keeping at least one byte, so a line of exactly
// k*max_line bytes splits the same way whether or not its '\n' arrived in the same read). At EOF
// everything goes.
Status OutputCapture::Flush(bool at_eof) {
  size_t cut = len_;
  if (!at_eof) {
    const void* nl = len_ > 0 ? memrchr(buf_.get(), '\n', len_) : nullptr;
    cut = nl == nullptr ? 0 : static_cast<size_t>(static_cast<const char*>(nl) - buf_.get()) + 1;
    const size_t tail = len_ - cut;
    if (tail > 0) cut += ((tail - 1) / log_->max_line()) * log_->max_line();
  }
  if (cut == 0) return Status::Ok();
  Status s = log_->Append(stream_, std::string_view(buf_.get(), cut));
  memmove(buf_.get(), buf_.get() + cut, len_ - cut);
  len_ -= cut;
  return s;
}

}  // namespace titan::exec
