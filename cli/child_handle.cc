// `titan up`'s node processes over exec::ChildProcess: their logs, READY-line reading, and ordered
// termination.
#include "cli/child_handle.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <utility>

namespace titan::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kFallbackPollMs = 100;  // exit polling when the kernel has no pidfd

void Append(int fd, std::string_view bytes) {
  if (fd < 0) return;
  [[maybe_unused]] const ssize_t n = write(fd, bytes.data(), bytes.size());  // a log; losing it is no error
}

int MsLeft(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// One line at the top of each run's section of the log, so restarts are easy to find.
void WriteLogHeader(int fd, const std::vector<std::string>& argv) {
  char stamp[32];
  const time_t now = time(nullptr);
  tm local{};
  localtime_r(&now, &local);
  strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &local);
  std::string line = std::string("---- ") + stamp + " titan up started:";
  for (const std::string& a : argv) line += " " + a;
  Append(fd, line + "\n");
}

}  // namespace

Result<ChildHandle> ChildHandle::Spawn(std::string label, const std::vector<std::string>& argv,
                                       const std::string& log_path) {
  ChildHandle h;
  h.label_ = std::move(label);
  h.log_path_ = log_path;
  h.log_.Reset(open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!h.log_.valid()) return ErrnoStatus("cannot open log '" + log_path + "'", errno);
  WriteLogHeader(h.log_.get(), argv);
  exec::SpawnSpec spec;
  spec.argv = argv;
  spec.env = exec::CurrentEnvironment();
  spec.stderr_file = log_path;
  auto process = exec::ChildProcess::Spawn(spec);
  if (!process.ok()) return process.status();
  h.process_ = std::move(process.value());
  return h;
}

bool ChildHandle::WaitReady(std::string_view role, std::chrono::milliseconds deadline, int interrupt_fd,
                            std::string* endpoint, std::string* error) {
  const auto until = Clock::now() + deadline;
  const std::string prefix = "READY " + std::string(role) + " ";
  for (;;) {
    for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      const std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      if (line.rfind(prefix, 0) == 0) {
        *endpoint = line.substr(prefix.size());
        return true;
      }
      Append(log_.get(), line + "\n");  // anything else a node prints before READY
    }
    const int out_fd = stdout_fd();
    pollfd fds[2] = {{out_fd, POLLIN, 0}, {interrupt_fd, POLLIN, 0}};
    const int ready = out_fd < 0 ? 0 : poll(fds, interrupt_fd >= 0 ? 2 : 1, MsLeft(until));
    if (ready < 0 && errno == EINTR) continue;
    if (interrupt_fd >= 0 && (fds[1].revents & POLLIN)) {
      *error = "interrupted";
      return false;
    }
    if (ready <= 0) {
      *error = "no READY line within " + std::to_string(deadline.count()) + " ms";
      return false;
    }
    char buf[4096];
    const ssize_t n = read(out_fd, buf, sizeof buf);
    if (n > 0) {
      pending_.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    *error = EndedBeforeReady();
    return false;
  }
}

std::string ChildHandle::EndedBeforeReady() {
  // EOF: it closed stdout, almost certainly by exiting. Give it a moment to be reapable.
  stdout_eof_ = true;
  if (exit_fd() >= 0) {
    pollfd e{exit_fd(), POLLIN, 0};
    poll(&e, 1, 1000);
  }
  const std::optional<exec::ExitStatus> how = Exited();
  return how ? "it ended (" + how->Render() + ")" : "closed its stdout before announcing READY";
}

void ChildHandle::DrainStdout() {
  char buf[4096];
  for (;;) {
    const ssize_t n = stdout_fd() < 0 ? 0 : read(stdout_fd(), buf, sizeof buf);
    if (n > 0) {
      Append(log_.get(), std::string_view(buf, static_cast<size_t>(n)));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    stdout_eof_ = true;
    return;
  }
}

std::optional<exec::ExitStatus> ChildHandle::Exited() {
  if (!exit_) exit_ = process_.TryReap();
  return exit_;
}

std::string ChildHandle::LogTail(size_t n) const {
  std::ifstream in(log_path_);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(std::move(line));
    if (lines.size() > n) lines.erase(lines.begin());
  }
  std::string out;
  for (const std::string& l : lines) out += "    " + l + "\n";
  return out;
}

std::vector<ChildHandle*> StopChildren(std::span<ChildHandle* const> children, int sig,
                                       std::chrono::milliseconds grace, int interrupt_fd) {
  for (ChildHandle* c : children) {
    if (!c->Exited()) c->SignalGroup(sig);
  }
  const auto until = Clock::now() + grace;
  for (;;) {
    std::vector<pollfd> fds;
    bool fallback = false;
    for (ChildHandle* c : children) {
      if (c->Exited()) continue;
      if (c->exit_fd() >= 0) {
        fds.push_back({c->exit_fd(), POLLIN, 0});
      } else {
        fallback = true;
      }
      if (c->stdout_fd() >= 0) c->DrainStdout();
    }
    if (fds.empty() && !fallback) return {};
    if (MsLeft(until) == 0) break;
    if (interrupt_fd >= 0) fds.push_back({interrupt_fd, POLLIN, 0});
    const int timeout = fallback ? std::min(kFallbackPollMs, MsLeft(until)) : MsLeft(until);
    poll(fds.data(), fds.size(), timeout);
    if (interrupt_fd >= 0 && (fds.back().revents & POLLIN)) break;
  }
  std::vector<ChildHandle*> killed;
  for (ChildHandle* c : children) {
    if (c->Exited()) continue;
    c->SignalGroup(SIGKILL);
    killed.push_back(c);
  }
  return killed;
}

void BecomeSubreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }

namespace {

// Pids whose parent is this process, from /proc/<pid>/stat ("pid (comm) state ppid ...").
std::vector<pid_t> ChildrenOfSelf() {
  std::vector<pid_t> out;
  const pid_t self = getpid();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) == 2 && ppid == self) {
      out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return out;
}

}  // namespace

int KillAdoptedChildren() {
  int count = 0;
  for (int round = 0; round < 10; ++round) {  // killing a group leader may orphan more processes to us
    const std::vector<pid_t> children = ChildrenOfSelf();
    if (children.empty()) break;
    for (const pid_t pid : children) {
      const pid_t group = getpgid(pid);
      if (group > 1 && group != getpgrp()) kill(-group, SIGKILL);
      kill(pid, SIGKILL);
    }
    for (const pid_t pid : children) {
      int status = 0;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      ++count;
    }
  }
  return count;
}

}  // namespace titan::cli
