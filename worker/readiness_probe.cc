// Port-free check, TCP connect probe and health-command probe.
#include "worker/readiness_probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"

namespace titan::worker {
namespace {

constexpr size_t kOutputTail = 512;  // bytes of a health command's output kept to explain a failure

sockaddr_in AddressOf(uint32_t host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(host);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  return addr;
}

// The last non-empty line of `text`, trimmed of trailing whitespace.
std::string LastLine(const std::string& text) {
  size_t end = text.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  size_t start = text.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  return text.substr(start, end + 1 - start);
}

}  // namespace

Result<bool> PortInUse(int port) {
  if (port <= 0 || port > 65535) return Status::Error("port " + std::to_string(port) + " is not a TCP port");
  exec::UniqueFd sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock.valid()) return ErrnoStatus("socket", errno);
  const int one = 1;
  ::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in addr = AddressOf(INADDR_ANY, port);
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return false;
  if (errno == EADDRINUSE) return true;
  return ErrnoStatus("bind port " + std::to_string(port), errno);
}

Probe Probe::Start(const ProbeRequest& request, const std::string& cwd, const std::vector<std::string>& env,
                   int64_t now) {
  if (request.kind == ProbeKind::kCommand)
    return Command(request.health_cmd, cwd, env, now, request.timeout_ms);
  return Connect(request.port, now, request.timeout_ms);
}

Probe Probe::Connect(int port, int64_t now, int64_t timeout_ms) {
  Probe p(AddMs(now, timeout_ms), timeout_ms);
  p.what_ = "connect to 127.0.0.1:" + std::to_string(port);
  p.sock_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!p.sock_.valid()) {
    p.Decide(State::kFailed, p.what_ + ": socket: " + strerror(errno));
    return p;
  }
  const sockaddr_in addr = AddressOf(INADDR_LOOPBACK, port);
  if (::connect(p.sock_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    p.Decide(State::kPassed, "");
  } else if (errno != EINPROGRESS) {
    p.Decide(State::kFailed, p.what_ + ": " + strerror(errno));
  }
  return p;
}

Probe Probe::Command(const std::string& cmd, const std::string& cwd, const std::vector<std::string>& env,
                     int64_t now, int64_t timeout_ms) {
  Probe p(AddMs(now, timeout_ms), timeout_ms);
  p.what_ = "health check";
  exec::SpawnSpec spec;
  spec.argv = {"bash", "-c", cmd};
  spec.cwd = cwd;
  spec.env = env;
  spec.merge_stderr = true;
  auto child = exec::ChildProcess::Spawn(spec);
  if (!child.ok()) {
    p.Decide(State::kFailed, child.message());
    return p;
  }
  p.child_.emplace(std::move(child.value()));
  return p;
}

void Probe::Decide(State state, std::string detail) {
  state_ = state;
  detail_ = std::move(detail);
  sock_.Reset();
  child_.reset();  // kills what is left of the command's group and reaps it
}

void Probe::DrainOutput() {
  if (!child_ || output_eof_) return;
  char buf[4096];
  for (int i = 0; i < 16; ++i) {
    const ssize_t n = ::read(child_->stdout_fd(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      output_eof_ = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
      return;
    }
    output_.append(buf, static_cast<size_t>(n));
    if (output_.size() > kOutputTail) output_.erase(0, output_.size() - kOutputTail);
  }
}

Probe::State Probe::Check(int64_t now) {
  if (state_ != State::kPending) return state_;
  if (sock_.valid()) {
    pollfd pfd = {sock_.get(), POLLOUT, 0};
    if (::poll(&pfd, 1, 0) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(sock_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err == 0)
        Decide(State::kPassed, "");
      else
        Decide(State::kFailed, what_ + ": " + strerror(err));
      return state_;
    }
  } else if (child_) {
    DrainOutput();
    if (const std::optional<exec::ExitStatus> st = child_->TryReap()) {
      DrainOutput();
      const std::string tail = LastLine(output_);
      if (st->success())
        Decide(State::kPassed, "");
      else
        Decide(State::kFailed, st->Render() + (tail.empty() ? "" : ": " + tail));
      return state_;
    }
  }
  if (now >= deadline_)
    Decide(State::kFailed, what_ + " timed out after " + std::to_string(timeout_ms_) + " ms");
  return state_;
}

std::vector<PollFd> Probe::PollFds() const {
  std::vector<PollFd> fds;
  if (state_ != State::kPending) return fds;
  if (sock_.valid()) fds.push_back({sock_.get(), true});
  if (child_) {
    if (child_->exit_fd() >= 0) fds.push_back({child_->exit_fd(), false});
    if (!output_eof_) fds.push_back({child_->stdout_fd(), false});
  }
  return fds;
}

}  // namespace titan::worker
