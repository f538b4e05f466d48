// Service restart policy as tables: backoff, crash-loop limit, forgiveness, probe cadence.
#include "worker/service_policy.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace titan::worker {
namespace {

using exec::ExitStatus;

const ExitStatus kExit0{ExitStatus::Kind::kExited, 0, 0};
const ExitStatus kExit1{ExitStatus::Kind::kExited, 1, 0};
const ExitStatus kSegv{ExitStatus::Kind::kSignaled, 0, SIGSEGV};
const ExitStatus kTerm{ExitStatus::Kind::kSignaled, 0, SIGTERM};

std::string Render(const AfterExit& a) {
  return (a.give_up ? std::string("give up") : "restart in " + std::to_string(a.delay_ms) + " ms") +
         " (crash " + std::to_string(a.crashes) + "): " + a.reason;
}

TEST(ServicePolicy, BackoffDoublesFromHalfASecondUpToThirtySeconds) {
  std::string got;
  for (int crashes : {1, 2, 3, 4, 5, 6, 7, 8, 60, 1000000})
    got += std::to_string(RestartDelayMs(crashes)) + " ";
  EXPECT_EQ("500 1000 2000 4000 8000 16000 30000 30000 30000 30000 ", got);
}

TEST(ServicePolicy, RestartsUntilTheCrashesExceedMaxRestarts) {
  struct Row {
    int crashes;
    int max_restarts;
    ExitStatus status;
    std::string stopped_because;
    std::string want;
  };
  const Row rows[] = {
      {0, 5, kExit1, "", "restart in 500 ms (crash 1): exited with code 1; restarting in 500 ms"},
      {1, 5, kExit1, "", "restart in 1000 ms (crash 2): exited with code 1; restarting in 1000 ms"},
      {4, 5, kExit1, "", "restart in 8000 ms (crash 5): exited with code 1; restarting in 8000 ms"},
      {5, 5, kExit1, "", "give up (crash 6): crash loop: exited 6 times in a row (last: exit code 1)"},
      {2, 5, kSegv, "", "restart in 2000 ms (crash 3): killed by SIGSEGV (signal 11); restarting in 2000 ms"},
      {0, 5, kExit0, "", "restart in 500 ms (crash 1): exited with code 0; restarting in 500 ms"},
      {0, 5, kTerm, "health check failed 3 times",
       "restart in 500 ms (crash 1): health check failed 3 times; restarting in 500 ms"},
      {1, 1, kTerm, "not ready within 60 s of its start",
       "give up (crash 2): crash loop: exited 2 times in a row (last: not ready within 60 s of its start)"},
      {0, 0, kExit1, "", "give up (crash 1): crash loop: exited 1 time in a row (last: exit code 1)"},
      {0, -3, kExit1, "", "give up (crash 1): crash loop: exited 1 time in a row (last: exit code 1)"},
      {49, 100, kExit1, "", "restart in 30000 ms (crash 50): exited with code 1; restarting in 30000 ms"},
      {0, 5, ExitStatus{}, "", "restart in 500 ms (crash 1): exit status unknown; restarting in 500 ms"},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(r.want,
              Render(DecideAfterExit(r.crashes, r.max_restarts, DescribeRunEnd(r.status, r.stopped_because))))
        << "crashes=" << r.crashes << " max_restarts=" << r.max_restarts;
  }
}

TEST(ServicePolicy, CrashesAreForgivenAfterThirtySecondsOfReadiness) {
  EXPECT_FALSE(WasStable(1000, 1000));
  EXPECT_FALSE(WasStable(1000, 30999));
  EXPECT_TRUE(WasStable(1000, 31000));
  EXPECT_TRUE(WasStable(1000, 999999));
}

TEST(ServicePolicy, ProbeKindAndCadence) {
  EXPECT_EQ(ProbeKind::kCommand, ProbeKindFor(8080, "curl -f localhost:8080/health"));
  EXPECT_EQ(ProbeKind::kCommand, ProbeKindFor(0, "test -f ready"));
  EXPECT_EQ(ProbeKind::kConnect, ProbeKindFor(8080, ""));
  EXPECT_EQ(ProbeKind::kNone, ProbeKindFor(0, ""));
  EXPECT_EQ(250, ProbeIntervalMs(ProbeKind::kConnect, false));
  EXPECT_EQ(1000, ProbeIntervalMs(ProbeKind::kConnect, true));
  EXPECT_EQ(1000, ProbeIntervalMs(ProbeKind::kCommand, false));
  EXPECT_EQ(1000, ProbeIntervalMs(ProbeKind::kCommand, true));
  EXPECT_EQ(0, ProbeIntervalMs(ProbeKind::kNone, false));
}

}  // namespace
}  // namespace titan::worker
