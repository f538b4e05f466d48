// The test PostgreSQL server does not outlive its test process: SIGKILL of the process makes the watchdog
// stop the server and remove its directory; a server whose process and watchdog were both killed is reaped
// by the next ReapOrphans(). Waits on the processes' exits (pidfd), never on the clock.
#include "base/pg_test_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace titan::testing {
namespace {

constexpr int kDeadlineMs = 60'000;

struct Started {
  pid_t child = -1;
  int postmaster = -1;
  int watchdog = -1;
  std::string dir;
};

// A child process that starts the shared server, reports it, then waits to be killed.
Started StartInAChild(std::string* why) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    std::string failure;
    PostgresServer* server = PostgresServer::Shared(&failure);
    std::string line = "0 0 -\n";
    if (server != nullptr) {
      std::ifstream pid_file(server->dir() + "/data/postmaster.pid");
      int postmaster = 0;
      pid_file >> postmaster;
      line = std::to_string(postmaster) + " " + std::to_string(server->watchdog_pid()) + " " + server->dir() +
             "\n";
    }
    (void)!write(fds[1], line.data(), line.size());
    for (;;) pause();
  }
  close(fds[1]);
  Started s;
  s.child = child;
  std::string line;
  char c;
  while (read(fds[0], &c, 1) == 1 && c != '\n') line += c;
  close(fds[0]);
  std::sscanf(line.c_str(), "%d %d", &s.postmaster, &s.watchdog);
  s.dir = line.substr(line.rfind(' ') + 1);
  if (s.postmaster <= 0) *why = "the child could not start PostgreSQL (see the shared server's setup.log)";
  return s;
}

void Kill(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

// Whether every process of `pids` ended within the deadline.
bool WaitForExits(const std::vector<int>& pids) {
  std::vector<pollfd> fds;
  for (int pid : pids) {
    const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) fds.push_back({fd, POLLIN, 0});  // absent: gone already
  }
  bool all = true;
  for (pollfd& p : fds) {
    all = all && poll(&p, 1, kDeadlineMs) == 1;
    close(p.fd);
  }
  return all;
}

class PgTestServerLifetime : public ::testing::Test {
 protected:
  void SetUp() override {
    if (PostgresServer::BinDir().empty()) GTEST_SKIP() << "PostgreSQL is not installed";
  }
};

TEST_F(PgTestServerLifetime, AKilledTestProcessLeavesNoServerRunning) {
  std::string why;
  const Started s = StartInAChild(&why);
  ASSERT_GT(s.postmaster, 0) << why;
  Kill(s.child);
  EXPECT_TRUE(WaitForExits({s.watchdog, s.postmaster})) << "PostgreSQL outlived its killed test process";
  EXPECT_FALSE(std::filesystem::exists(s.dir)) << s.dir;
}

TEST_F(PgTestServerLifetime, TheNextRunReapsAServerWhoseWatchdogDiedToo) {
  std::string why;
  const Started s = StartInAChild(&why);
  ASSERT_GT(s.postmaster, 0) << why;
  kill(s.watchdog, SIGKILL);  // before its process: nothing stops the server now
  ASSERT_TRUE(WaitForExits({s.watchdog}));
  Kill(s.child);
  ASSERT_TRUE(std::filesystem::exists(s.dir));
  EXPECT_GE(PostgresServer::ReapOrphans(), 1);
  EXPECT_TRUE(WaitForExits({s.postmaster}));
  EXPECT_FALSE(std::filesystem::exists(s.dir)) << s.dir;
}

}  // namespace
}  // namespace titan::testing
