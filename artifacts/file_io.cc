// POSIX file helpers for the artifacts library: full writes and reads, directory fsync, mkdir -p.
#include "artifacts/file_io.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/unique_fd.h"

namespace titan::artifacts {

Status IoError(std::string_view what, int err, std::string_view todo) {
  std::string message = ErrnoStatus(what, err).message();
  message += "; ";
  message += todo;
  return Status::Error(std::move(message));
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("cannot write '" + path + "'", errno, "check free disk space");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status WriteAllAt(int fd, int64_t offset, std::string_view data, const std::string& path) {
  for (size_t done = 0; done < data.size();) {
    const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("cannot write '" + path + "'", errno, "check free disk space");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

ssize_t ReadSome(int fd, char* buf, size_t n) {
  for (;;) {
    const ssize_t got = ::read(fd, buf, n);
    if (got >= 0 || errno != EINTR) return got;
  }
}

Status FsyncDir(const std::string& dir) {
  exec::UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return IoError("cannot open folder '" + dir + "'", errno, "check its permissions");
  if (::fsync(fd.get()) != 0) return IoError("cannot fsync folder '" + dir + "'", errno, "check the disk");
  return Status::Ok();
}

Status MakeDirs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return IoError("cannot create folder '" + dir + "'", ec.value(), "check the path and its permissions");
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::Error("'" + dir + "' exists but is not a folder; move it away");
  }
  return Status::Ok();
}

Status CopyNewFile(const std::string& src, const std::string& dst, mode_t mode) {
  exec::UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return IoError("cannot open '" + src + "' to copy it", errno, "check that it exists");
  exec::UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!out.valid()) return IoError("cannot create '" + dst + "'", errno, "check the folder's permissions");
  Status status;
  std::string buf(kIoChunk, '\0');
  for (;;) {
    const ssize_t n = ReadSome(in.get(), buf.data(), buf.size());
    if (n < 0) status = IoError("cannot read '" + src + "'", errno, "check the disk");
    if (n <= 0) break;
    status = WriteAll(out.get(), std::string_view(buf.data(), static_cast<size_t>(n)), dst);
    if (!status.ok()) break;
  }
  if (status.ok() && ::fsync(out.get()) != 0) {
    status = IoError("cannot fsync '" + dst + "'", errno, "check the disk");
  }
  if (!status.ok()) ::unlink(dst.c_str());
  return status;
}

}  // namespace titan::artifacts
