// NodeProcess: a real `titan` process for integration tests. Starts it with posix_spawn, waits (with
// a deadline, on its stdout pipe) for its "READY <role> <endpoint>" line, and kills and reaps it
// when destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace titan::testing {

class NodeProcess {
 public:
  // Runs $TITAN_BIN (or build/bin/titan) with `args`; stderr goes to `log_path` when given.
  explicit NodeProcess(std::vector<std::string> args, std::string log_path = "");
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Waits for the READY line; false when the process exits or the deadline passes first.
  bool WaitReady(std::chrono::milliseconds deadline = std::chrono::seconds(20));
  const std::string& endpoint() const { return endpoint_; }  // tcp://127.0.0.1:PORT
  int port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Sends `sig` and waits for the process to exit; returns its wait status.
  int Kill(int sig);
  // Sends SIGTERM and waits; true when it exited with status 0.
  bool Stop();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string endpoint_;
  int port_ = 0;
};

std::string TitanBinary();

}  // namespace titan::testing
