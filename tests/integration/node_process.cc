// Spawning and reaping real titan processes for tests.
#include "node_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

extern char** environ;

namespace titan::testing {

std::string TitanBinary() {
  const char* env = std::getenv("TITAN_BIN");
  return env ? env : std::string(TITAN_SOURCE_DIR) + "/build/bin/titan";
}

NodeProcess::NodeProcess(std::vector<std::string> args, std::string log_path) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  if (!log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  }
  args.insert(args.begin(), TitanBinary());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  stdout_fd_ = fds[0];
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Kill(SIGKILL);
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

bool NodeProcess::WaitReady(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return false;
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[256];
    const ssize_t n = read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) return false;  // exited before announcing
    line.append(buf, static_cast<size_t>(n));
  }
  // "READY <role> <endpoint>"
  const auto last_space = line.rfind(' ', line.find('\n'));
  endpoint_ = line.substr(last_space + 1, line.find('\n') - last_space - 1);
  port_ = std::atoi(endpoint_.substr(endpoint_.rfind(':') + 1).c_str());
  return line.rfind("READY ", 0) == 0 && port_ > 0;
}

int NodeProcess::Kill(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

bool NodeProcess::Stop() {
  const int status = Kill(SIGTERM);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace titan::testing
