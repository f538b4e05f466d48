// Test helpers for readiness probes and services: loopback sockets whose port is read back, a clock,
// and waits on a probe's own descriptors up to a deadline instead of sleeping.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <vector>

#include "base/clock.h"
#include "base/unique_fd.h"
#include "worker/exec_test_util.h"
#include "worker/readiness_probe.h"

namespace titan::worker::testing {

inline int64_t NowMs() { return MonoMs(); }  // the worker's clock, as its probes are driven

// A TCP socket on 127.0.0.1 with a kernel-chosen port, listening (like a server, SO_REUSEADDR) or
// only bound (so that, once closed, `port` names a port nobody listens on).
struct LoopbackSocket {
  exec::UniqueFd fd;
  int port = 0;

  static LoopbackSocket Open(bool listen) {
    LoopbackSocket s;
    s.fd.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(s.fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(s.fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return s;
    if (listen && ::listen(s.fd.get(), 16) != 0) return s;
    ::getsockname(s.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    s.port = ntohs(addr.sin_port);
    return s;
  }
};

// A port nobody listens on (bound, read back, closed).
inline int ClosedPort() { return LoopbackSocket::Open(false).port; }

// Waits until one of `fds` is ready or `deadline` passes; false on timeout.
inline bool WaitFor(const std::vector<PollFd>& fds, std::chrono::steady_clock::time_point deadline) {
  std::vector<pollfd> pfds;
  for (const PollFd& p : fds) pfds.push_back({p.fd, static_cast<short>(p.write ? POLLOUT : POLLIN), 0});
  return ::poll(pfds.data(), pfds.size(), exec::testing::MillisLeft(deadline)) > 0;
}

// Checks `probe` at the fixed time `now`, waiting on its descriptors between checks, until it is
// decided or 10 s pass (then kPending).
inline Probe::State Decide(Probe& probe, int64_t now) {
  const auto deadline = std::chrono::steady_clock::now() + exec::testing::kWait;
  for (;;) {
    const Probe::State state = probe.Check(now);
    if (state != Probe::State::kPending || !WaitFor(probe.PollFds(), deadline)) return probe.Check(now);
  }
}

}  // namespace titan::worker::testing
