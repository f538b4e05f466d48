// Spawning and reaping real titan processes for tests.
#include "tests/integration/node_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "schemas/cpp/test_paths.h"

extern char** environ;

namespace titan::testing {
namespace {

// This process's environment with `extra` ("NAME=value") added; an extra entry replaces a
// variable of the same name.
std::vector<std::string> MergedEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string name = kv.substr(0, kv.find('='));
    bool replaced = false;
    for (const auto& x : extra) replaced = replaced || x.substr(0, x.find('=')) == name;
    if (!replaced) env.push_back(kv);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

// Waits until `pid` (a child of ours) exits or `timeout` passes; true with `status` set when it exited.
bool WaitExit(pid_t pid, std::chrono::milliseconds timeout, int* status) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int r;
    while ((r = poll(&p, 1, static_cast<int>(timeout.count()))) < 0 && errno == EINTR) {
    }
    close(pidfd);
    if (r == 0) return false;
  }
  // Exited (or no pidfd support: block).
  while (waitpid(pid, status, 0) < 0) {
    if (errno != EINTR) return true;
  }
  return true;
}

}  // namespace

std::string TitanBinary() {
  const char* env = std::getenv("TITAN_BIN");
  return env ? env : titan::testing::SourcePath("build/bin/titan");
}

NodeProcess::NodeProcess(std::vector<std::string> args, std::string log_path,
                         std::vector<std::string> extra_env) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  if (!log_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
  }
  args.insert(args.begin(), TitanBinary());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = MergedEnvironment(extra_env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  stdout_fd_ = fds[0];
}

NodeProcess::~NodeProcess() {
  if (pid_ > 0) Kill(SIGKILL);
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

bool NodeProcess::ReadReadyLine(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return false;
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[256];
    const ssize_t n = read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) return false;  // exited before announcing
    line.append(buf, static_cast<size_t>(n));
  }
  line.resize(line.find('\n'));
  // "READY <role> <word>"
  if (line.rfind("READY ", 0) != 0) return false;
  const auto role_end = line.find(' ', 6);
  if (role_end == std::string::npos) return false;
  role_ = line.substr(6, role_end - 6);
  endpoint_ = line.substr(line.rfind(' ') + 1);
  return !endpoint_.empty();
}

bool NodeProcess::WaitReady(std::chrono::milliseconds deadline) {
  if (!ReadReadyLine(deadline)) return false;
  const auto colon = endpoint_.rfind(':');
  port_ = colon == std::string::npos ? 0 : std::atoi(endpoint_.substr(colon + 1).c_str());
  return port_ > 0;
}

bool NodeProcess::WaitReadyName(std::chrono::milliseconds deadline) { return ReadReadyLine(deadline); }

int NodeProcess::Kill(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return status;
}

int NodeProcess::Terminate(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  if (WaitExit(pid_, grace, &status)) {
    pid_ = -1;
    return status;
  }
  return Kill(SIGKILL);
}

bool NodeProcess::WaitExited(std::chrono::milliseconds within) {
  if (pid_ <= 0) return true;
  int status = 0;
  if (!WaitExit(pid_, within, &status)) return false;
  pid_ = -1;
  return true;
}

bool NodeProcess::Stop() {
  const int status = Kill(SIGTERM);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace titan::testing
