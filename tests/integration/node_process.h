// NodeProcess: a real `titan` process for integration tests. Starts it with posix_spawn, waits (with
// a deadline, on its stdout pipe) for its "READY <role> <word>" line, and kills and reaps it when
// destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace titan::testing {

class NodeProcess {
 public:
  // Runs $TITAN_BIN (or build/bin/titan) with `args`; stderr goes to `log_path` when given.
  // `extra_env` ("NAME=value") is added to (and overrides) this process's environment.
  explicit NodeProcess(std::vector<std::string> args, std::string log_path = "",
                       std::vector<std::string> extra_env = {});
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Waits for "READY <role> tcp://host:port"; false when the process exits or the deadline passes
  // first, or the line names no port.
  bool WaitReady(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  // Waits for "READY <role> <name>" (a worker announces its name, not an endpoint).
  bool WaitReadyName(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  const std::string& role() const { return role_; }
  const std::string& endpoint() const { return endpoint_; }  // tcp://127.0.0.1:PORT
  const std::string& name() const { return endpoint_; }      // the last word of the READY line
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Sends `sig` and waits for the process to exit; returns its wait status.
  int Kill(int sig);
  // Sends `sig`; if the process has not exited within `grace`, sends SIGKILL. Returns the wait status.
  int Terminate(int sig, std::chrono::milliseconds grace);
  // Sends SIGTERM and waits; true when it exited with status 0.
  bool Stop();
  // Waits up to `within` for the process to exit on its own; true (and reaped) when it did.
  bool WaitExited(std::chrono::milliseconds within);

 private:
  bool ReadReadyLine(std::chrono::milliseconds deadline);

  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string role_;
  std::string endpoint_;
  int port_ = 0;
};

std::string TitanBinary();

}  // namespace titan::testing
