// Setting the wall clock while the broker runs: relative deadlines are monotonic, so a jump of an hour
// either way loses no worker and fires no timeout early (or late); deadlines kept in wall time (a
// gate's expiry, cron ticks) are never early by either clock (docs/operations.md, "Clock changes").
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

constexpr int64_t kHour = 3'600'000;

class ClockJumpTest : public BrokerCoreTest {
 protected:
  void JumpWall(int64_t ms) { now_.wall_ms += ms; }

  void Wait(const std::string& route, const std::string& id, int64_t timeout_ms) {
    core_->OnClient({route}, 1, wire::JobWaitMsg{.id = id, .timeout_ms = timeout_ms}.ToMessage(), now_);
    Turn();
  }

  // Whether a reply went to `route` since the last call (clears the record).
  bool Answered(const std::string& route) {
    bool answered = false;
    for (const auto& o : sent_) answered |= o.kind == Outgoing::kClient && o.route == Route{route};
    sent_.clear();
    return answered;
  }

  // Starts a delayed job (10 s), a failed job waiting its retry backoff (500 ms) and a JOB_WAIT of 5 s
  // on a running job, all on worker w1.
  void ArmTimeouts() {
    Join("w1", 4);
    Submit({{"delayed", {}, 1, "GENERAL", 10'000}, {"flaky", {}, 1, "GENERAL", 0, 1}, {"long"}});
    EXPECT_EQ("flaky@w1 long@w1", Assignments());
    Done("w1", "flaky", 1);
    ASSERT_EQ("SCHEDULED", State("flaky"));
    Wait("waiter", "long", 5'000);
    sent_.clear();
  }

  // Each timeout fires at its time measured since it was armed, whatever the wall clock did meanwhile.
  void ExpectTimeoutsOnTime() {
    EXPECT_EQ("w1:1/4", core_->RenderWorkers());  // not lost: its heartbeats are what count
    EXPECT_EQ("SCHEDULED", State("delayed"));
    Advance(499, {"w1"});
    EXPECT_EQ("SCHEDULED", State("flaky"));
    Advance(1, {"w1"});
    EXPECT_EQ("flaky@w1", Assignments());
    Advance(4'499, {"w1"});
    EXPECT_FALSE(Answered("waiter"));
    Advance(1, {"w1"});
    EXPECT_TRUE(Answered("waiter"));
    Advance(4'999, {"w1"});
    EXPECT_EQ("SCHEDULED", State("delayed"));
    Advance(1, {"w1"});
    EXPECT_EQ("delayed@w1", Assignments());
    EXPECT_EQ("w1:3/4", core_->RenderWorkers());
  }
};

TEST_F(ClockJumpTest, AnHourForwardLosesNoWorkerAndFiresNoTimeoutEarly) {
  ArmTimeouts();
  JumpWall(kHour);
  Turn();
  ExpectTimeoutsOnTime();
}

TEST_F(ClockJumpTest, AnHourBackLosesNoWorkerAndDelaysNoTimeout) {
  ArmTimeouts();
  JumpWall(-kHour);
  Turn();
  ExpectTimeoutsOnTime();
}

TEST_F(ClockJumpTest, ASilentWorkerIsStillLostOnTime) {
  Join("w1", 4);
  JumpWall(-kHour);  // a clock set back must not keep a dead worker alive either
  Advance(3'000, {});
  EXPECT_EQ("w1:0/4", core_->RenderWorkers());
  Advance(1'000, {});  // the fourth second without a heartbeat
  EXPECT_EQ("", core_->RenderWorkers());
}

TEST_F(ClockJumpTest, RecoveryGraceIsNotCutShortByAJumpForward) {
  Join("w1", 4);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  Stop();
  Open();  // the broker restarts: "a" waits recovery_grace_ms (5 s) for w1
  JumpWall(kHour);
  Advance(4'500, {});
  EXPECT_EQ("RUNNING", State("a"));
  Join("w1", 4, {"GENERAL"}, {wire::JobRef{.id = "a", .attempt = 1}});
  Advance(5'000, {"w1"});
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("", Assignments());  // adopted, not started again
  EXPECT_EQ(0, core_->FindJob("a")->lost);
}

TEST_F(ClockJumpTest, RecoveryGraceEndsOnTimeAfterAJumpBack) {
  Join("w1", 4);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  Stop();
  Open();
  JumpWall(-kHour);
  Join("w2", 4);
  Advance(4'500, {"w2"});
  EXPECT_EQ("RUNNING", State("a"));
  Advance(500, {"w2"});  // w1 did not return within the grace: a runs elsewhere, not an hour late
  EXPECT_EQ("a@w2", Assignments());
}

// A gate's deadline is wall time (started_ms + max_wait, so that it survives a restart). Set forward,
// the clock does not cut the wait short: the gate expires when max_wait has passed while the broker
// ran. Set back, the gate waits until the wall clock reaches its deadline.
TEST_F(ClockJumpTest, AGateExpiresNeitherEarlyNorBeforeItsWallDeadline) {
  Join("w1", 4);
  Submit(
      {{"t", {}, 1, "GENERAL", 0, 0, false, "ship?", 60}, {"u", {}, 1, "GENERAL", 0, 0, false, "ship?", 60}});
  Done("w1", "t", 0);
  Done("w1", "u", 0);
  ASSERT_EQ("WAITING_APPROVAL", State("hitl-gate-t"));
  const int64_t started = core_->FindJob("hitl-gate-t")->started_ms;
  Advance(10'000, {"w1"});
  JumpWall(kHour);
  Advance(49'500, {"w1"});
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-t"));
  Advance(500, {"w1"});
  EXPECT_EQ("FAILED", State("hitl-gate-t"));
  EXPECT_EQ("FAILED", State("hitl-gate-u"));
  EXPECT_EQ(started, core_->FindJob("hitl-gate-t")->started_ms);  // stored times are wall times

  Submit({{"v", {}, 1, "GENERAL", 0, 0, false, "ship?", 60}});
  Done("w1", "v", 0);
  ASSERT_EQ("WAITING_APPROVAL", State("hitl-gate-v"));
  Advance(10'000, {"w1"});
  JumpWall(-600'000);  // ten minutes back
  Advance(50'000, {"w1"});
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-v"));  // 60 s have passed, but not on the wall clock
  Advance(599'500, {"w1"});
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-v"));
  Advance(500, {"w1"});
  EXPECT_EQ("FAILED", State("hitl-gate-v"));
}

// Cron ticks are wall times. A jump forward skips the ticks in between: the schedule fires once, when
// its next tick was due by the time elapsed, stamped with the wall time then. A jump back repeats no
// tick: the next one fires when the wall clock reaches it.
TEST_F(ClockJumpTest, CronRunsSkippedTicksOnceAndRepeatsNone) {
  Join("w1", 4);
  ASSERT_EQ(MsgType::kOk, AddSchedule("s", "*/5 * * * *", {{"x"}}).type);  // at 00:16:40; next tick 00:20
  Advance(60'000, {"w1"});                                                 // 00:17:40
  JumpWall(kHour);                                                         // 01:17:40
  Advance(139'000, {"w1"});
  EXPECT_EQ("", Assignments());
  Advance(1'000, {"w1"});  // 200 s after it was armed: the wall says 01:20
  EXPECT_EQ("x@19700101T0120Z@w1", Assignments());
  Advance(300'000, {"w1"});
  EXPECT_EQ("x@19700101T0125Z@w1", Assignments());

  JumpWall(-15 * 60'000);    // 01:25 -> 01:10
  Advance(300'000, {"w1"});  // the 01:15 and 01:20 ticks ran already: not again
  EXPECT_EQ("", Assignments());
  Advance(899'000, {"w1"});
  EXPECT_EQ("", Assignments());
  Advance(1'000, {"w1"});  // 01:30 on the wall clock
  EXPECT_EQ("x@19700101T0130Z@w1", Assignments());
}

// A peer may ask for absurd durations; they saturate instead of overflowing.
// The largest delay and wait a submission may ask for (larger ones are INVALID: limits_core_test.cc).
TEST_F(ClockJumpTest, AHugeDelayOrWaitDoesNotOverflow) {
  Join("w1", 4);
  Submit({{"never", {}, 1, "GENERAL", kMaxDelayMs}, {"g", {}, 1, "GENERAL", 0, 0, false, "ok?", kMaxWaitS}});
  EXPECT_EQ("SCHEDULED", State("never"));
  Done("w1", "g", 0);
  Advance(5'000, {"w1"});
  EXPECT_EQ("SCHEDULED", State("never"));
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-g"));
  Stop();
  Open();
  EXPECT_EQ("SCHEDULED", State("never"));
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-g"));
}

}  // namespace
}  // namespace titan::broker
