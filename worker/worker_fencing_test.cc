// WorkerCore fencing: a worker out of contact with the broker past its lease kills its runs itself, so
// that the broker's requeue never races a live copy.
#include "worker/worker_core_fixture.h"

namespace titan::worker {
namespace {

constexpr int64_t kLease = 1500;
constexpr const char* kKilled =
    "titan: killed: no contact with the broker for 1.5 s; the broker requeues this run";

class WorkerFencingTest : public WorkerCoreTest {
 protected:
  void SetUp() override {
    Deliver(WelcomeWithLease(kLease));
    Deliver(Assign("a", 1));
  }
};

TEST_F(WorkerFencingTest, AStalledWorkerKeepsRunningJobsThatWereGivenAway) {
  now_ = kT0 + 1000;
  EXPECT_EQ(kT0 + kLease + 1, core_->NextDue(Now()));
  EXPECT_EQ("", Tick(kT0 + kLease));  // at the lease: still in time
  EXPECT_EQ(std::string("renew-registration; note a: ") + kKilled + "; signal a KILL",
            Tick(kT0 + kLease + 1));
}

TEST_F(WorkerFencingTest, AFencedRunIsReportedFencedWithTheLineOfItsLog) {
  Tick(kT0 + kLease + 1);
  EXPECT_EQ("a/1:fenced", core_->RenderJobs());
  EXPECT_EQ("|", Ready());                 // dying: not offered to the broker for adoption
  EXPECT_EQ("", Tick(kT0 + 10 * kLease));  // killed once, and no busy deadline while it ends
  EXPECT_EQ(kT0 + 10 * kLease + kLease / 2, core_->NextDue(Now()));  // no deadline but the lease's
  EXPECT_EQ(std::string("signal a KILL; end-run a; done a/1: ") + kKilled + " (fenced); forget a",
            Ends("a", Killed(9)));
  EXPECT_EQ("| a/1", Ready());  // kept until acknowledged, when contact returns
}

TEST_F(WorkerFencingTest, HeartbeatsFromTheBrokerKeepTheLease) {
  for (int i = 1; i <= 10; ++i) {
    now_ = kT0 + i * 1000;
    core_->OnContact(Now());  // a HEARTBEAT, which the link keeps to itself
    EXPECT_EQ("", Tick(now_));
  }
  EXPECT_EQ("a/1:running", core_->RenderJobs());
}

TEST_F(WorkerFencingTest, AWorkerThatWasNotRunningPastItsLeaseFencesBeforeAnythingElse) {
  core_->BeginTurn(Now());
  now_ += kLease + 200;  // SIGSTOP, then SIGCONT: the broker's queued heartbeats arrive next
  core_->BeginTurn(Now());
  core_->OnContact(Now());
  EXPECT_EQ(std::string("renew-registration; note a: titan: killed: no contact with the broker for 1.7 s; "
                        "the broker requeues "
                        "this run; signal a KILL"),
            Run());
}

// Regression (chaos run): a worker resumed after a stall past its lease read the JOB_ASSIGNs queued during
// the stall and started them, though the broker had given them to another worker meanwhile.
TEST_F(WorkerFencingTest, AfterItsLeaseRanOutAWorkerStartsNoAssignmentUntilItsNewRegistrationIsAnswered) {
  const std::string fenced = Tick(kT0 + kLease + 1);
  EXPECT_EQ(0u, fenced.find("renew-registration; note a: ")) << fenced;  // registers again, once
  EXPECT_EQ("", Tick(kT0 + kLease + 500));
  EXPECT_EQ(
      "done q/1: not started: worker w1 had no contact with the broker for longer than its lease; the broker "
      "places the job again (fenced)",
      Deliver(Assign("q", 1)));
  EXPECT_EQ("a/1:fenced", core_->RenderJobs());
  const int64_t before = core_->ReadyMessage().session.value_or(0);  // the registration the link sends now
  // The answer to a registration from before the lapse, queued: still refused.
  EXPECT_EQ("", Deliver(WelcomeWithLease(kLease).Set("session", Datum(before - 1))));
  EXPECT_NE(std::string::npos, Deliver(Assign("r", 1)).find("done r/1: not started")) << "stale welcome";
  // The answer to the new one: assignments start again.
  EXPECT_EQ("runs-grace 500ms; new-session", Deliver(WelcomeWithLease(kLease).Set("session", Datum(before))));
  EXPECT_EQ("fetch f1; launch s/1", Deliver(Assign("s", 1)));
}

TEST_F(WorkerFencingTest, ABrokerThatEchoesNoSessionEndsTheLapseWithItsNextWelcome) {
  Tick(kT0 + kLease + 1);
  EXPECT_NE(std::string::npos, Deliver(Assign("q", 1)).find("not started")) << "lapsed";
  Deliver(WelcomeWithLease(kLease));  // no registration since the lapse: it cannot answer one
  EXPECT_NE(std::string::npos, Deliver(Assign("r", 1)).find("not started")) << "lapsed";
  Ready();  // the link registers again (renew-registration)
  Deliver(WelcomeWithLease(kLease));
  EXPECT_EQ("fetch f1; launch s/1", Deliver(Assign("s", 1)));
}

// An idle worker with a lease under a second still turns within half of it, so that a later turn's gap
// past the lease means it was not running, not that it slept (it would fence and warn for nothing).
TEST_F(WorkerFencingTest, AnIdleWorkerNeverSleepsAsLongAsItsLease) {
  Reset();
  Deliver(WelcomeWithLease(750));
  EXPECT_EQ(kT0 + 375, core_->NextDue(Now()));
}

TEST_F(WorkerFencingTest, WithoutALeaseFromTheBrokerThereIsNoFencing) {
  Reset();
  Deliver(Welcome());
  Deliver(Assign("a", 1));
  EXPECT_EQ("", Tick(kT0 + kHour));
  EXPECT_EQ("a/1:running", core_->RenderJobs());
}

TEST_F(WorkerFencingTest, AnAssignmentWaitingForItsFileIsReportedFencedUnstarted) {
  missing_ = {"big"};
  Deliver(Assign("b", 1, {}, "big"));
  const std::string out = Tick(kT0 + kLease + 1);
  EXPECT_NE(std::string::npos, out.find(std::string("done b/1: ") + kKilled + " (fenced)")) << out;
  EXPECT_EQ("| b/1", Ready());  // a is being killed; b's result waits for its acknowledgement
}

}  // namespace
}  // namespace titan::worker
