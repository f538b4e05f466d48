#include "worker/dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>

#include <thread>

namespace titan::worker {
namespace {

Result<exec::UniqueFd> Open(const std::string& path) {
  exec::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("cannot open the worker's lock '" + path + "'", errno);
  return fd;
}

// True once the lock is ours; false while another process holds it.
Result<bool> TryFlock(int fd, const std::string& path) {
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    return ErrnoStatus("cannot lock '" + path + "'", errno);
  }
  return true;
}

}  // namespace

std::string DirLockPath(const std::string& dir) { return dir + "/worker.lock"; }

Result<exec::UniqueFd> LockDir(const std::string& path, std::chrono::milliseconds wait) {
  Result<exec::UniqueFd> fd = Open(path);
  if (!fd.ok()) return fd;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  bool said = false;
  while (true) {
    Result<bool> locked = TryFlock(fd->get(), path);
    if (!locked.ok()) return locked.status();
    if (*locked) return fd;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error("another process holds '" + path + "' after " +
                           std::to_string(wait.count() / 1000) +
                           " s: a worker already runs with this --dir (stop it, or give this one its own "
                           "--dir), or the reaper of one killed there is stuck ending its jobs");
    }
    if (!said) {
      spdlog::info(
          "worker: waiting for '{}': held by the reaper of a previous run ending its jobs, or by "
          "another worker on this --dir",
          path);
      said = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // startup only: flock has no timeout
  }
}

Result<std::optional<exec::UniqueFd>> TryLockDir(const std::string& path) {
  Result<exec::UniqueFd> fd = Open(path);
  if (!fd.ok()) return fd.status();
  Result<bool> locked = TryFlock(fd->get(), path);
  if (!locked.ok()) return locked.status();
  if (!*locked) return std::optional<exec::UniqueFd>();
  return std::optional<exec::UniqueFd>(std::move(fd).value());
}

}  // namespace titan::worker
