// Service supervision driven with injected time: readiness by spawn, by TCP connect and by health
// command; unhealthy after three failed probes; not ready in time; restart accounting and the
// crash-loop limit; SERVICE_STATUS contents. Probes run for real (the test plays the worker's OS
// edge, which runs what the service asks for); the tests wait on the probes' descriptors.
#include "worker/service.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "worker/probe_test_util.h"

namespace titan::worker {
namespace {

using exec::ExitStatus;
using exec::testing::TempDir;
using testing::ClosedPort;
using testing::LoopbackSocket;

const ExitStatus kExit1{ExitStatus::Kind::kExited, 1, 0};
constexpr int64_t kT0 = 1'000'000;  // an arbitrary epoch ms

const char* Name(Service::Event e) {
  switch (e) {
    case Service::Event::kNone:
      return "none";
    case Service::Event::kReady:
      return "ready";
    case Service::Event::kUnhealthy:
      return "unhealthy";
  }
  return "?";
}

// Plays the worker's OS edge for one service at the fixed time `now`: starts the probe the service
// asks for, for real, waits on the probe's descriptors (up to 10 s) and reports its result, then
// checks the readiness deadline. Returns the first event, or "none" once no probe is in flight.
struct Prober {
  std::string cwd = "/";
  std::optional<Probe> probe;

  std::string Drive(Service& s, int64_t now) {
    const auto deadline = std::chrono::steady_clock::now() + exec::testing::kWait;
    for (;;) {
      if (!s.probe_in_flight()) probe.reset();  // stopped meanwhile
      if (auto request = s.ProbeDue(now))
        probe.emplace(Probe::Start(*request, cwd, exec::CurrentEnvironment(), now));
      if (probe && probe->Check(now) != Probe::State::kPending) {
        const bool passed = probe->Check(now) == Probe::State::kPassed;
        const std::string detail = probe->detail();
        probe.reset();
        if (const Service::Event e = s.ProbeEnded(passed, detail, now); e != Service::Event::kNone)
          return Name(e);
      }
      if (const Service::Event e = s.Tick(now); e != Service::Event::kNone) return Name(e);
      if (!probe || !testing::WaitFor(probe->PollFds(), deadline)) return "none";
    }
  }
};

// Drives `s` with a fresh prober (a service whose probes need no directory).
std::string Drive(Service& s, int64_t now) { return Prober{}.Drive(s, now); }

std::string Status(const Service& s) {
  return wire::Render(wire::Datum(s.StatusMessage("web", 2).ToMessage().body));
}

Service Make(int port, std::string health_cmd, int max_restarts) {
  return Service(ServiceSpec{port, std::move(health_cmd), max_restarts});
}

TEST(ServiceSpecOf, ReadsTheServiceFieldsOfAJobSpec) {
  wire::JobSpec job;
  job.id = "a";
  EXPECT_FALSE(ServiceSpecOf(job).has_value());
  job.job_type = "RUN_PAYLOAD";
  EXPECT_FALSE(ServiceSpecOf(job).has_value());
  job.job_type = "SERVICE";
  auto plain = ServiceSpecOf(job);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(0, plain->port);
  EXPECT_EQ("", plain->health_cmd);
  EXPECT_EQ(5, plain->max_restarts);
  job.port = 8080;
  job.health_cmd = "curl -f x";
  job.max_restarts = 2;
  auto full = ServiceSpecOf(job);
  EXPECT_EQ(8080, full->port);
  EXPECT_EQ("curl -f x", full->health_cmd);
  EXPECT_EQ(2, full->max_restarts);
}

TEST(Service, WithoutPortOrHealthCommandItIsReadyAsSoonAsSpawned) {
  Service s = Make(0, "", 5);
  EXPECT_EQ(Service::Event::kReady, s.Started(4242, kT0));
  EXPECT_EQ("{id: \"web\", attempt: 2, ready: true, restarts: 0, pid: 4242}", Status(s));
  EXPECT_FALSE(s.probing());
  EXPECT_EQ(INT64_MAX, s.NextDue());
}

TEST(Service, RestartsWithBackoffThenGivesUpOnACrashLoop) {
  Service s = Make(0, "", 2);
  int64_t t = kT0;
  s.Started(100, t);
  AfterExit a = s.Exited(kExit1, "", t += 100);
  EXPECT_FALSE(a.give_up);
  EXPECT_TRUE(s.backing_off());
  EXPECT_EQ(t + 500, s.restart_at());
  EXPECT_EQ(t + 500, s.NextDue());
  EXPECT_EQ(
      "{id: \"web\", attempt: 2, ready: false, restarts: 0, pid: 100, "
      "reason: \"exited with code 1; restarting in 500 ms\"}",
      Status(s));
  s.Started(101, t += 500);
  EXPECT_EQ(1, s.restarts());
  EXPECT_FALSE(s.backing_off());
  a = s.Exited(kExit1, "", t += 100);
  EXPECT_EQ("exited with code 1; restarting in 1000 ms", a.reason);
  s.Started(102, t += 1000);
  a = s.Exited(kExit1, "", t += 100);
  EXPECT_TRUE(a.give_up);
  EXPECT_FALSE(s.backing_off());
  EXPECT_EQ("crash loop: exited 3 times in a row (last: exit code 1)", a.reason);
  EXPECT_EQ(2, s.restarts());
}

TEST(Service, ThirtySecondsOfReadinessForgiveEarlierCrashes) {
  Service s = Make(0, "", 1);
  s.Started(100, kT0);
  EXPECT_EQ("exited with code 1; restarting in 500 ms", s.Exited(kExit1, "", kT0 + 10).reason);
  s.Started(101, kT0 + 510);
  // Ready from kT0 + 510 on: an exit 30 s later is a first crash again, not the second in a row.
  const AfterExit a = s.Exited(kExit1, "", kT0 + 510 + 30000);
  EXPECT_FALSE(a.give_up);
  EXPECT_EQ(1, a.crashes);
  EXPECT_EQ("exited with code 1; restarting in 500 ms", a.reason);
}

TEST(Service, BecomesReadyWhenItsPortAcceptsThenUnhealthyAfterThreeFailedConnects) {
  LoopbackSocket server = LoopbackSocket::Open(/*listen=*/true);
  ASSERT_GT(server.port, 0);
  Service s = Make(server.port, "", 5);
  int64_t t = kT0;
  EXPECT_EQ(Service::Event::kNone, s.Started(100, t));
  EXPECT_EQ("{id: \"web\", attempt: 2, ready: false, restarts: 0, pid: 100, reason: \"starting\"}",
            Status(s));
  EXPECT_EQ(t + 250, s.NextDue());  // the first connect after 250 ms
  EXPECT_EQ("none", Drive(s, t + 100));
  EXPECT_EQ("ready", Drive(s, t += 250));
  EXPECT_TRUE(s.ready());
  EXPECT_EQ("{id: \"web\", attempt: 2, ready: true, restarts: 0, pid: 100}", Status(s));
  EXPECT_EQ(t + 1000, s.NextDue());  // once ready, every second

  server.fd.Reset();  // the service stops accepting
  EXPECT_EQ("none", Drive(s, t += 1000));
  EXPECT_EQ("none", Drive(s, t += 1000));
  EXPECT_TRUE(s.ready());
  EXPECT_EQ("unhealthy", Drive(s, t += 1000));
  EXPECT_FALSE(s.ready());
  EXPECT_EQ("health check failed 3 times", s.reason());
  EXPECT_EQ("connect to 127.0.0.1:" + std::to_string(server.port) + ": Connection refused", s.probe_detail());
  EXPECT_FALSE(s.probing());
  EXPECT_EQ("none", Drive(s, t += 1000));  // no probing while the worker stops it
  // The worker stopped it (SIGTERM): that exit counts as a crash, explained by the health check.
  const AfterExit a = s.Exited(ExitStatus{ExitStatus::Kind::kSignaled, 0, 15}, s.reason(), t += 100);
  EXPECT_EQ("health check failed 3 times; restarting in 500 ms", a.reason);
}

TEST(Service, OneFailedProbeAmongPassesIsNotUnhealthy) {
  TempDir dir;
  Service s = Make(0, "test -f up", 5);
  Prober prober{dir.path()};
  const auto Drive = [&prober](Service& s, int64_t now) { return prober.Drive(s, now); };
  int64_t t = kT0;
  s.Started(100, t);
  EXPECT_EQ("none", Drive(s, t += 1000));  // not up yet
  std::ofstream(dir / "up") << "";
  EXPECT_EQ("ready", Drive(s, t += 1000));
  std::filesystem::remove(dir / "up");
  EXPECT_EQ("none", Drive(s, t += 1000));
  EXPECT_EQ("none", Drive(s, t += 1000));
  std::ofstream(dir / "up") << "";
  EXPECT_EQ("none", Drive(s, t += 1000));  // the count of failures in a row starts over
  std::filesystem::remove(dir / "up");
  EXPECT_EQ("none", Drive(s, t += 1000));
  EXPECT_EQ("none", Drive(s, t += 1000));
  EXPECT_TRUE(s.ready());
}

TEST(Service, NotReadyWithinSixtySecondsOfAStartIsUnhealthy) {
  Service s = Make(ClosedPort(), "", 5);
  s.Started(100, kT0);
  EXPECT_EQ(kT0 + 250, s.NextDue());
  EXPECT_EQ("none", Drive(s, kT0 + 250));
  EXPECT_EQ("none", Drive(s, kT0 + 59999));
  EXPECT_EQ("unhealthy", Drive(s, kT0 + 60000));
  EXPECT_EQ("not ready within 60 s of its start", s.reason());
}

TEST(Service, EndedForGoodStopsProbingAndNeverRestarts) {
  LoopbackSocket server = LoopbackSocket::Open(/*listen=*/true);
  Service s = Make(server.port, "", 5);
  s.Started(100, kT0);
  s.EndForGood();
  EXPECT_TRUE(s.ended_for_good());
  EXPECT_FALSE(s.backing_off());
  EXPECT_EQ("none", Drive(s, kT0 + 250));
  EXPECT_EQ(INT64_MAX, s.NextDue());
}

TEST(Service, ARestartStartsWithAStatusSayingSo) {
  Service s = Make(ClosedPort(), "", 5);
  s.Started(100, kT0);
  s.Exited(kExit1, "", kT0 + 10);
  EXPECT_EQ(Service::Event::kNone, s.Started(101, kT0 + 510));
  EXPECT_EQ(
      "{id: \"web\", attempt: 2, ready: false, restarts: 1, pid: 101, reason: \"starting (restart 1)\"}",
      Status(s));
}

}  // namespace
}  // namespace titan::worker
