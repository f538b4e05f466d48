// Runs watched by a worker's reaper: the handover of their pidfds, and the exit statuses read through them.
#include "worker/reaper_runs.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <sstream>

#include "worker/fd_passing.h"
#include "worker/pid_registry.h"

namespace titan::worker {
namespace {

// PIDFD_GET_INFO (Linux 6.13+; PIDFD_INFO_EXIT 6.15+), declared here: the build's kernel headers predate it.
// Its first version, 64 bytes; the kernel accepts any size from that one on.
struct PidfdInfo {
  uint64_t mask;
  uint64_t cgroupid;
  uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
  int32_t exit_code;
};
static_assert(sizeof(PidfdInfo) == 64);
constexpr uint64_t kPidfdInfoPid = 1u << 0;
constexpr uint64_t kPidfdInfoExit = 1u << 3;
constexpr unsigned long kPidfdGetInfo = _IOWR(0xFF, 11, PidfdInfo);

constexpr size_t kMaxMessage = 4096;

bool Exited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

// Whether the process behind `pidfd` still exists (running or a zombie): signal 0 through the pidfd.
bool StillThere(int pidfd) { return ::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) == 0; }

}  // namespace

std::string EncodeWatchedRun(const std::string& id, int64_t attempt, std::optional<int64_t> epoch,
                             pid_t pid) {
  return "run " + std::to_string(attempt) + " " + (epoch ? std::to_string(*epoch) : "-") + " " +
         std::to_string(pid) + " " + id;
}

std::string EncodeAcked(const std::string& id, int64_t attempt) {
  return "acked " + std::to_string(attempt) + " " + id;
}

Result<WatchedRun> DecodeWatchedRun(const std::string& text) {
  std::istringstream in(text);
  WatchedRun run;
  std::string kind, epoch;
  if (!(in >> kind >> run.attempt >> epoch >> run.pid) || kind != "run" || in.get() != ' ' || run.pid <= 0)
    return Status::Error("not a watched run: '" + text + "'");
  std::getline(in, run.id, '\0');
  if (run.id.empty()) return Status::Error("a watched run without an id: '" + text + "'");
  if (epoch != "-") {
    char* end = nullptr;
    const long long e = std::strtoll(epoch.c_str(), &end, 10);
    if (end == epoch.c_str() || *end != '\0') return Status::Error("a watched run's epoch is not a number");
    run.epoch = e;
  }
  return run;
}

Status SendRun(int socket, const std::string& id, int64_t attempt, std::optional<int64_t> epoch, pid_t pid,
               int pidfd, std::initializer_list<int> output) {
  const std::string text = EncodeWatchedRun(id, attempt, epoch, pid);
  if (text.size() > kMaxMessage) return Status::Error("job id too long to hand to the reaper");
  std::vector<int> fds = {pidfd};
  for (const int fd : output) {
    if (fd >= 0 && fds.size() <= WatchedRuns::kMaxOutput) fds.push_back(fd);
  }
  if (const int err = exec::SendWithFds(socket, text, fds); err != 0)
    return ErrnoStatus("cannot hand a run to the reaper", err);
  return Status::Ok();
}

int64_t RunsGraceMs(int64_t heartbeat_ms, int64_t lease_ms) {
  constexpr int64_t kMostMs = 5000;
  const int64_t beat = std::max<int64_t>(1, heartbeat_ms);
  // Without a lease the broker's verdict needs at least 1.5 beats of silence (liveness >= 3).
  const int64_t broker_waits = (lease_ms > 0 ? lease_ms + beat / 2 : beat + beat / 2) - beat;
  return std::clamp<int64_t>(broker_waits / 2, 0, kMostMs);
}

Status SendGrace(int socket, int64_t ms) {
  if (const int err = exec::SendWithFds(socket, "grace " + std::to_string(ms), {}); err != 0)
    return ErrnoStatus("cannot tell the reaper how long runs may finish", err);
  return Status::Ok();
}

Status SendAcked(int socket, const std::string& id, int64_t attempt) {
  const std::string text = EncodeAcked(id, attempt);
  if (text.size() > kMaxMessage) return Status::Error("job id too long to hand to the reaper");
  if (const int err = exec::SendWithFds(socket, text, {}); err != 0)
    return ErrnoStatus("cannot tell the reaper a run was acknowledged", err);
  return Status::Ok();
}

bool WatchedRuns::Receive(int socket) {
  for (;;) {
    char text[kMaxMessage];
    iovec iov{text, sizeof(text)};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (1 + kMaxOutput))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    const ssize_t n = ::recvmsg(socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    if (n == 0) return false;         // the worker's end closed
    std::vector<exec::UniqueFd> fds;  // the pidfd, then the output pipes
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
      const size_t n_fds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < n_fds; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
        fds.emplace_back(fd);
      }
    }
    const std::string message(text, static_cast<size_t>(n));
    if (message.starts_with("grace ")) {
      char* end = nullptr;
      const long long ms = std::strtoll(message.c_str() + 6, &end, 10);
      if (end != message.c_str() + 6 && *end == '\0' && ms >= 0) grace_ms_ = ms;
      continue;
    }
    if (message.starts_with("acked ")) {
      std::istringstream in(message.substr(6));
      int64_t attempt = 0;
      std::string id;
      if (in >> attempt && in.get() == ' ' && std::getline(in, id, '\0')) {
        std::erase_if(runs_, [&](const WatchedRun& r) { return r.attempt == attempt && r.id == id; });
      }
      continue;
    }
    Result<WatchedRun> run = DecodeWatchedRun(message);
    if (!run.ok() || fds.empty() || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) continue;
    run->pidfd = std::move(fds.front());
    for (size_t i = 1; i < fds.size(); ++i) run->output.push_back(std::move(fds[i]));
    runs_.push_back(std::move(run.value()));
    if (runs_.size() > kMaxWatched) runs_.pop_front();
  }
}

size_t LetRunsFinish(const WatchedRuns& watched, std::chrono::steady_clock::time_point deadline) {
  std::vector<const WatchedRun*> running;
  std::vector<int> pipes;  // open ones; -1 once at EOF
  for (const WatchedRun& run : watched.runs()) {
    if (!Exited(run.pidfd.get())) running.push_back(&run);
    for (const exec::UniqueFd& fd : run.output) {
      const int flags = ::fcntl(fd.get(), F_GETFL);
      if (flags >= 0 && ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) == 0) pipes.push_back(fd.get());
    }
  }
  for (;;) {
    std::erase_if(running, [](const WatchedRun* r) { return Exited(r->pidfd.get()); });
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (running.empty() || left.count() <= 0) return running.size();
    std::vector<pollfd> p;
    for (const WatchedRun* r : running) p.push_back({r->pidfd.get(), POLLIN, 0});
    for (const int fd : pipes) p.push_back({fd, POLLIN, 0});  // fd -1: ignored by poll
    if (::poll(p.data(), p.size(), static_cast<int>(left.count())) < 0 && errno != EINTR)
      return running.size();
    for (size_t i = running.size(); i < p.size(); ++i) {
      if (p[i].revents == 0) continue;
      char sink[64 * 1024];
      for (int reads = 0; reads < 16; ++reads) {  // nonblocking (set above): 1 MiB per wake at most
        const ssize_t n = ::read(p[i].fd, sink, sizeof sink);
        if (n > 0) continue;
        if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
          pipes[i - running.size()] = -1;
        break;
      }
    }
  }
}

std::optional<int> ExitOf(const WatchedRun& run) {
  const int fd = run.pidfd.get();
  if (!Exited(fd)) return std::nullopt;  // running (or not a pidfd at all)
  PidfdInfo info{};
  info.mask = kPidfdInfoExit | kPidfdInfoPid;
  if (::ioctl(fd, kPidfdGetInfo, &info) == 0 && (info.mask & kPidfdInfoExit) != 0) return info.exit_code;
  // Unreaped (a zombie whose new parent has not waited for it yet), or a kernel without exit records:
  // its /proc entry, read while the pidfd shows it is still there, so the pid is still its own.
  const std::optional<exec::ProcStat> st = exec::ReadProcStat(run.pid);
  if (st && st->state == 'Z' && st->exit_code && StillThere(fd)) return st->exit_code;
  // Reaped between the two reads: the kernel's record, where there is one, has it now.
  info = PidfdInfo{};
  info.mask = kPidfdInfoExit;
  if (::ioctl(fd, kPidfdGetInfo, &info) == 0 && (info.mask & kPidfdInfoExit) != 0) return info.exit_code;
  return std::nullopt;
}

std::vector<wire::JobResult> ResultsOf(const std::vector<std::pair<const WatchedRun*, int>>& ended) {
  std::vector<wire::JobResult> out;
  for (const auto& [run, status] : ended) {
    if (!WIFEXITED(status)) continue;
    wire::JobResult r{.id = run->id,
                      .attempt = run->attempt,
                      .exit_code = WEXITSTATUS(status),
                      .signal = 0,
                      .cancelled = false};
    r.log_truncated = true;  // output the worker had not read yet, or not sent, is not in the broker's copy
    r.epoch = run->epoch;
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace titan::worker
