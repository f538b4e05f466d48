// Per-job log files with file names that are safe for any job id.
#include "broker/log_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/unique_fd.h"

namespace titan::broker {

LogStore::LogStore(std::string dir) : dir_(std::move(dir)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
}

std::string LogStore::PathOf(const std::string& job_id) const {
  // Letters, digits, '-', '_' and '.' are kept (no leading dot); anything else becomes %XX.
  std::string name;
  for (size_t i = 0; i < job_id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(job_id[i]);
    if (std::isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0)) {
      name.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      name += buf;
    }
  }
  return dir_ + "/" + name + ".log";
}

Result<int64_t> LogStore::Append(const std::string& job_id, std::string_view bytes) {
  const std::string path = PathOf(job_id);
  const exec::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus("cannot open job log '" + path + "'", errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus("cannot stat job log '" + path + "'", errno);
  if (Status s = WriteAll(fd.get(), bytes, "job log '" + path + "'"); !s.ok()) {
    // Keep whole chunks: cut off the part that fit (a shrink needs no space; should it fail all the
    // same, the chunk stays partly written, and the job is marked as having lost output either way).
    const int cut = ftruncate(fd.get(), st.st_size);
    (void)cut;
    return s;
  }
  return static_cast<int64_t>(st.st_size);
}

std::string LogStore::Read(const std::string& job_id, int64_t offset, int64_t max_bytes) const {
  const int fd = open(PathOf(job_id).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string out(static_cast<size_t>(max_bytes), '\0');
  const ssize_t n = pread(fd, out.data(), out.size(), offset);
  close(fd);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

Status LogStore::ProbeSpace() const {
  const std::string path = dir_ + "/.space-probe";
  const exec::UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("cannot create '" + path + "'", errno);
  const std::string block(64 * 1024, '\0');
  const Status s = WriteAll(fd.get(), block, "'" + path + "'");
  unlink(path.c_str());
  return s;
}

int64_t LogStore::Size(const std::string& job_id) const {
  struct stat st;
  return stat(PathOf(job_id).c_str(), &st) == 0 ? st.st_size : 0;
}

void LogStore::Remove(const std::string& job_id) { unlink(PathOf(job_id).c_str()); }

}  // namespace titan::broker
