// Checks that tell whether a service is up, each a non-blocking step for the worker loop: whether a
// TCP port is free on this machine (before a service's first start), a TCP connect to
// 127.0.0.1:<port>, and a health command (`bash -c <cmd>` in its own process group).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "worker/child_process.h"
#include "worker/service_policy.h"

namespace titan::worker {

// True when `port` is held on this machine: binding 0.0.0.0:<port> with SO_REUSEADDR fails with
// EADDRINUSE (a listener, on any local address). False when the bind succeeds (the socket is closed
// again at once). Error for any other failure, naming the call ("bind port 80: Permission denied").
Result<bool> PortInUse(int port);

// A descriptor the loop should poll for a probe: for writability (`write`) or readability.
struct PollFd {
  int fd = -1;
  bool write = false;
};

// One readiness check to run: a TCP connect to 127.0.0.1:port (kConnect), or health_cmd (kCommand).
struct ProbeRequest {
  ProbeKind kind = ProbeKind::kNone;
  int port = 0;
  std::string health_cmd;
  int64_t timeout_ms = 0;
};

// One readiness check in flight. Move-only; destroying a command probe kills its process group and
// reaps it. Owned and driven by the worker loop (or a test) on one thread.
class Probe {
 public:
  enum class State { kPending, kPassed, kFailed };

  // A non-blocking TCP connect to 127.0.0.1:<port>. It may be decided at once (loopback refuses
  // synchronously), so call Check before polling.
  static Probe Connect(int port, int64_t now, int64_t timeout_ms);
  // `bash -c <cmd>` in `cwd` with exactly `env`, stdout and stderr captured together (their tail
  // explains a failure). Exit 0 passes; any other end, or a failure to spawn, fails.
  static Probe Command(const std::string& cmd, const std::string& cwd, const std::vector<std::string>& env,
                       int64_t now, int64_t timeout_ms);

  // The probe `request` asks for; a command runs in `cwd` with exactly `env`.
  static Probe Start(const ProbeRequest& request, const std::string& cwd, const std::vector<std::string>& env,
                     int64_t now);

  Probe(Probe&&) noexcept = default;
  Probe& operator=(Probe&&) noexcept = default;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // Never blocks. Once decided the result stays. A probe still pending at `now` >= deadline() is
  // ended (the command's group is killed) and fails ("health check timed out after 5000 ms").
  State Check(int64_t now);
  // Why it failed: "connect to 127.0.0.1:8080: Connection refused", "exit code 1: curl: (7) ...",
  // "connect to 127.0.0.1:8080 timed out after 1000 ms"; empty otherwise.
  const std::string& detail() const { return detail_; }
  // What to wait on while pending; empty once decided.
  std::vector<PollFd> PollFds() const;
  int64_t deadline() const { return deadline_; }
  bool decided() const { return state_ != State::kPending; }  // as of the last Check (or the start)
  // The command's process (also its group id) while it runs; -1 otherwise.
  pid_t pid() const { return child_ ? child_->pid() : -1; }

 private:
  Probe(int64_t deadline, int64_t timeout_ms) : deadline_(deadline), timeout_ms_(timeout_ms) {}
  void Decide(State state, std::string detail);
  void DrainOutput();

  State state_ = State::kPending;
  std::string detail_;
  int64_t deadline_ = 0;
  int64_t timeout_ms_ = 0;
  std::string what_;                         // "connect to 127.0.0.1:8080"
  exec::UniqueFd sock_;                      // connect probe
  std::optional<exec::ChildProcess> child_;  // command probe
  std::string output_;                       // the command's last output bytes
  bool output_eof_ = false;
};

}  // namespace titan::worker
