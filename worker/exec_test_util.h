// Test helpers for the execution library: a temp directory, and waits that block on events (poll on
// pipes and pidfds) up to a deadline instead of sleeping.
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

#include "base/test_dir.h"
#include "base/unique_fd.h"
#include "worker/child_process.h"

namespace titan::exec::testing {

using std::chrono::milliseconds;
inline constexpr milliseconds kWait{10000};  // generous: the machine is shared

using titan::testing::TempDir;

inline int MillisLeft(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

// Waits on the child's pidfd for the leader to exit; nullopt on timeout.
inline std::optional<ExitStatus> WaitForExit(ChildProcess& child, milliseconds timeout = kWait) {
  pollfd pfd = {child.exit_fd(), POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  return child.TryReap();
}

// Reads `fd` (non-blocking) until EOF; nullopt on timeout.
inline std::optional<std::string> ReadToEof(int fd, milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  for (;;) {
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) return out;
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (errno != EAGAIN && errno != EINTR) return std::nullopt;
    pollfd pfd = {fd, POLLIN, 0};
    if (::poll(&pfd, 1, MillisLeft(deadline)) != 1) return std::nullopt;
  }
}

// Reads `fd` (non-blocking) up to and including the first '\n'; nullopt on timeout or EOF first.
// Reads one byte at a time so nothing after the line is consumed.
inline std::optional<std::string> ReadLine(int fd, milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string line;
  for (;;) {
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n == 0) return std::nullopt;
    if (n == 1) {
      if (c == '\n') return line;
      line.push_back(c);
      continue;
    }
    if (errno != EAGAIN && errno != EINTR) return std::nullopt;
    pollfd pfd = {fd, POLLIN, 0};
    if (::poll(&pfd, 1, MillisLeft(deadline)) != 1) return std::nullopt;
  }
}

// For a process we are the parent of but hold no ChildProcess for (released, or an orphan adopted as
// subreaper): waits for it to exit via a pidfd, reaps it, returns its wait status; nullopt on timeout.
inline std::optional<int> WaitAndReap(pid_t pid, milliseconds timeout = kWait) {
  UniqueFd pidfd = OpenPidFd(pid);
  if (!pidfd.valid()) return std::nullopt;
  pollfd pfd = {pidfd.get(), POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  return status;
}

// Orphaned grandchildren are re-parented to this test process, so it can reap them and then see them
// gone (this machine's init does not reap orphans).
inline void BecomeSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

// True when `pid` names no process at all (not even a zombie).
inline bool Gone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

inline SpawnSpec Command(std::vector<std::string> argv) {
  SpawnSpec spec;
  spec.argv = std::move(argv);
  spec.env = CurrentEnvironment();
  return spec;
}

}  // namespace titan::exec::testing
