// Readiness checks against real sockets and real commands: the port-free check, the TCP connect probe
// and the health-command probe (pass, fail, timeout, a chatty command that must not block).
#include "worker/readiness_probe.h"

#include <gtest/gtest.h>

#include "worker/probe_test_util.h"

namespace titan::worker {
namespace {

using exec::testing::Gone;
using exec::testing::TempDir;
using testing::ClosedPort;
using testing::Decide;
using testing::LoopbackSocket;
using testing::NowMs;

std::string Render(Probe& probe, int64_t now) {
  switch (Decide(probe, now)) {
    case Probe::State::kPending:
      return "pending";
    case Probe::State::kPassed:
      return "passed";
    case Probe::State::kFailed:
      return "failed: " + probe.detail();
  }
  return "?";
}

TEST(PortInUse, AListeningSocketHoldsThePortAndAClosedOneDoesNot) {
  LoopbackSocket server = LoopbackSocket::Open(/*listen=*/true);
  ASSERT_GT(server.port, 0);
  Result<bool> held = PortInUse(server.port);
  ASSERT_TRUE(held.ok()) << held.message();
  EXPECT_TRUE(held.value());

  const int port = server.port;
  server.fd.Reset();
  Result<bool> freed = PortInUse(port);
  ASSERT_TRUE(freed.ok()) << freed.message();
  EXPECT_FALSE(freed.value());
  Result<bool> never_used = PortInUse(ClosedPort());
  ASSERT_TRUE(never_used.ok()) << never_used.message();
  EXPECT_FALSE(never_used.value());
}

TEST(PortInUse, RejectsWhatIsNotAPort) {
  EXPECT_EQ("port 70000 is not a TCP port", PortInUse(70000).message());
  EXPECT_EQ("port 0 is not a TCP port", PortInUse(0).message());
}

TEST(ConnectProbe, PassesAgainstAListeningSocket) {
  LoopbackSocket server = LoopbackSocket::Open(/*listen=*/true);
  ASSERT_GT(server.port, 0);
  const int64_t now = NowMs();
  Probe probe = Probe::Connect(server.port, now, 1000);
  EXPECT_EQ("passed", Render(probe, now));
  EXPECT_TRUE(probe.PollFds().empty());
  EXPECT_EQ(-1, probe.pid());
}

TEST(ConnectProbe, FailsAgainstAClosedPort) {
  const int port = ClosedPort();
  const int64_t now = NowMs();
  Probe probe = Probe::Connect(port, now, 1000);
  EXPECT_EQ("failed: connect to 127.0.0.1:" + std::to_string(port) + ": Connection refused",
            Render(probe, now));
}

TEST(CommandProbe, ExitZeroPassesInTheJobsDirectoryWithItsEnvironment) {
  TempDir dir;
  const int64_t now = NowMs();
  Probe probe = Probe::Command("test \"$PWD\" = \"" + dir.path() + "\" && test \"$SVC\" = up", dir.path(),
                               {"PATH=/usr/bin:/bin", "SVC=up"}, now, 5000);
  EXPECT_EQ("passed", Render(probe, now));
}

TEST(CommandProbe, AnyOtherExitFailsWithTheLastLineItPrinted) {
  TempDir dir;
  const int64_t now = NowMs();
  Probe probe = Probe::Command("echo checking; echo 'curl: (7) Failed to connect' >&2; exit 7", dir.path(),
                               exec::CurrentEnvironment(), now, 5000);
  EXPECT_EQ("failed: exit code 7: curl: (7) Failed to connect", Render(probe, now));
  Probe silent = Probe::Command("exit 1", dir.path(), exec::CurrentEnvironment(), now, 5000);
  EXPECT_EQ("failed: exit code 1", Render(silent, now));
}

TEST(CommandProbe, ACommandStillRunningAtItsDeadlineIsKilledAndFails) {
  TempDir dir;
  const int64_t start = NowMs();
  Probe probe = Probe::Command("sleep 1000", dir.path(), exec::CurrentEnvironment(), start, 5000);
  const pid_t pid = probe.pid();
  ASSERT_GT(pid, 0);
  EXPECT_EQ(Probe::State::kPending, probe.Check(start + 4999));
  EXPECT_EQ(start + 5000, probe.deadline());
  EXPECT_EQ(Probe::State::kFailed, probe.Check(start + 5000));  // time is passed in: no waiting
  EXPECT_EQ("health check timed out after 5000 ms", probe.detail());
  EXPECT_EQ(-1, probe.pid());
  EXPECT_TRUE(Gone(pid));  // killed and reaped
}

TEST(CommandProbe, AChattyCommandDoesNotBlockOnAFullPipe) {
  TempDir dir;
  const int64_t now = NowMs();
  Probe probe = Probe::Command("head -c 1000000 /dev/zero | tr '\\0' x; echo; echo done", dir.path(),
                               exec::CurrentEnvironment(), now, 5000);
  EXPECT_EQ("passed", Render(probe, now));
}

TEST(CommandProbe, ASpawnFailureFailsAtOnce) {
  const int64_t now = NowMs();
  Probe probe = Probe::Command("true", "/nonexistent-titan-dir", exec::CurrentEnvironment(), now, 5000);
  EXPECT_EQ(Probe::State::kFailed, probe.Check(now));
  EXPECT_EQ("cannot use working directory '/nonexistent-titan-dir': No such file or directory",
            probe.detail());
}

}  // namespace
}  // namespace titan::worker
