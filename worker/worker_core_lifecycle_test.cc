// WorkerCore: services (restarts, probes), drain, signals and child workers.
#include <signal.h>

#include "worker/worker_core_fixture.h"

namespace titan::worker {
namespace {

TEST_F(WorkerCoreTest, AServiceCrashLoopRestartsWithBackoffThenGivesUp) {
  EXPECT_EQ("fetch f1; launch s/1; status s/1: ready", Deliver(Assign("s", 1, Service(2))));
  EXPECT_EQ("stop-probe s; signal s KILL; end-run s; status s/1: exited with code 1; restarting in 500 ms",
            Ends("s", Exited(1)));
  EXPECT_EQ("s/1:backoff(restart@1000500)", core_->RenderJobs());
  EXPECT_EQ(kT0 + 500, core_->NextDue(Now()));
  EXPECT_EQ("", Tick(kT0 + 499));
  EXPECT_EQ("respawn s (restart 1); status s/1: ready", Tick(kT0 + 500));
  EXPECT_EQ("stop-probe s; signal s KILL; end-run s; status s/1: exited with code 1; restarting in 1000 ms",
            Ends("s", Exited(1)));
  EXPECT_EQ("", Tick(kT0 + 1499));
  EXPECT_EQ("respawn s (restart 2); status s/1: ready", Tick(kT0 + 1500));
  EXPECT_EQ(
      "stop-probe s; signal s KILL; end-run s; done s/1: crash loop: exited 3 times in a row (last: exit "
      "code 1); "
      "forget s",
      Ends("s", Exited(1)));
}

Message Respawn(const std::string& id, int64_t attempt) {
  return wire::ServiceRespawnMsg{.id = id, .attempt = attempt, .reason = "restart requested"}.ToMessage();
}

TEST_F(WorkerCoreTest, ARequestedRestartStopsTheServiceWithItsGraceAndStartsItAgainAtOnce) {
  // max_restarts 0: one crash would end it, so the restart asked for must not count as one.
  EXPECT_EQ("fetch f1; launch s/1; status s/1: ready", Deliver(Assign("s", 1, Service(0))));
  EXPECT_EQ("", Deliver(Respawn("s", 2))) << "another attempt's restart is not this run's";
  EXPECT_EQ("", Deliver(Respawn("other", 1)));
  EXPECT_EQ(
      "note s: titan: restart requested: stopping the service to start it again; stop-probe s; signal s TERM",
      Deliver(Respawn("s", 1)));
  EXPECT_EQ("s/1:stopping(kill@1005000)", core_->RenderJobs());
  EXPECT_EQ("", Tick(kT0 + 4999));
  EXPECT_EQ("signal s KILL", Tick(kT0 + 5000));  // the kill grace is over
  EXPECT_EQ("stop-probe s; signal s KILL; end-run s; status s/1: restarting (requested)",
            Ends("s", Killed(SIGKILL)));
  EXPECT_EQ(now_, core_->NextDue(Now())) << "restarted at once, without a backoff";
  EXPECT_EQ("respawn s (restart 1); status s/1: ready", Tick(now_));
  // It is the same run: still attempt 1, restarted once, and a crash now is its first.
  EXPECT_EQ("s/1:running", core_->RenderJobs());
  EXPECT_EQ(
      "stop-probe s; signal s KILL; end-run s; done s/1: crash loop: exited 1 time in a row (last: exit "
      "code 1); forget s",
      Ends("s", Exited(1)));
}

TEST_F(WorkerCoreTest, ARestartAskedWhileTheServiceBacksOffStartsItAtOnce) {
  Deliver(Assign("s", 1, Service(5)));
  Ends("s", Exited(1));
  EXPECT_EQ("s/1:backoff(restart@1000500)", core_->RenderJobs());
  now_ = kT0 + 100;
  EXPECT_EQ("note s: titan: restart requested: stopping the service to start it again; stop-probe s",
            Deliver(Respawn("s", 1)));
  EXPECT_EQ("s/1:backoff(restart@1000100)", core_->RenderJobs());
  EXPECT_EQ("respawn s (restart 1); status s/1: ready", Tick(kT0 + 100));
}

TEST_F(WorkerCoreTest, AServiceThatCannotBeRestartedEndsWithWhy) {
  Deliver(Assign("s", 1, Service(5)));
  Ends("s", Exited(1));
  fail_respawn_ = true;
  EXPECT_EQ("respawn s (restart 1)", Tick(kT0 + 500));
  EXPECT_EQ("done s/1: cannot restart the service: no such file; forget s", Tick(kT0 + 500));
}

TEST_F(WorkerCoreTest, AServiceIsProbedUntilReadyAndStoppedWhenItTurnsUnhealthy) {
  EXPECT_EQ("fetch f1; launch s/1",
            Deliver(Assign("s", 1, {{"job_type", S("SERVICE")}, {"port", Datum(int64_t{8080})}})));
  EXPECT_EQ("probe s", Tick(kT0 + 250));
  core_->OnProbe("s", true, "", Now());
  EXPECT_EQ("status s/1: ready", Run());
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ("probe s", Tick(kT0 + 250 + i * 1000));
    core_->OnProbe("s", false, "connect to 127.0.0.1:8080: Connection refused", Now());
  }
  EXPECT_EQ("status s/1: health check failed 3 times; stop-probe s; signal s TERM", Run());
}

TEST_F(WorkerCoreTest, DrainLetsRunOnceJobsFinishAndHandsServicesBack) {
  Deliver(Assign("a", 1));
  Deliver(Assign("s", 1, Service(5)));
  EXPECT_EQ("heartbeat draining; stop-probe s; signal s TERM", Deliver(Drain()));
  EXPECT_TRUE(core_->draining());
  EXPECT_EQ("fetch f1; done t/1: worker w1 is draining; service handed back (cancelled)",
            Deliver(Assign("t", 1, Service(5))));
  EXPECT_EQ(
      "stop-probe s; signal s KILL; end-run s; done s/1: worker w1 is draining; service handed back "
      "(cancelled); forget s",
      Ends("s", Killed(SIGTERM)));
  EXPECT_FALSE(core_->done());
  EXPECT_EQ("signal a KILL; end-run a; done a/1: ok; forget a", Ends("a", Exited(0)));
  EXPECT_TRUE(core_->done());
}

TEST_F(WorkerCoreTest, DrainDeadlineStopsEveryJobLeft) {
  Deliver(Assign("a", 1));
  Deliver(Assign("b", 1));
  Deliver(Drain());
  EXPECT_EQ(kT0 + 30000, core_->NextDue(Instant{kT0 + 29500, 0}));
  EXPECT_EQ("", Tick(kT0 + 29999));
  EXPECT_EQ("signal a TERM; signal b TERM", Tick(kT0 + 30000));
  EXPECT_EQ("signal a KILL; signal b KILL", Tick(kT0 + 35000));
  Ends("a", Killed(SIGKILL));
  EXPECT_EQ("signal b KILL; end-run b; done b/1: worker w1 shut down; forget b", Ends("b", Killed(SIGKILL)));
  EXPECT_TRUE(core_->done());
}

TEST_F(WorkerCoreTest, ASecondSignalStopsEveryJobAtOnce) {
  Deliver(Assign("a", 1));
  core_->OnSignal(SIGTERM, Now());
  EXPECT_EQ("heartbeat draining", Run());
  core_->OnSignal(SIGTERM, Now());
  EXPECT_EQ("signal a TERM; signal-children TERM", Run());
  core_->OnSignal(SIGINT, Now());
  EXPECT_EQ("signal-children INT", Run());  // stopping already: no second SIGTERM to the job
}

TEST_F(WorkerCoreTest, SigintStopsEveryJobAndChildWorkerAtOnce) {
  Deliver(wire::MakeMessage(MsgType::kWorkerSpawn)
              .Set("name", S("c1"))
              .Set("slots", Datum(int64_t{2}))
              .Set("reason", S("test")));
  Deliver(Assign("a", 1));
  core_->OnSignal(SIGINT, Now());
  EXPECT_EQ("heartbeat draining; signal-children TERM; signal a TERM; signal-children INT", Run());
  EXPECT_EQ("signal a KILL", Tick(kT0 + 5000));
  EXPECT_EQ("", Tick(kT0 + 5000 + kChildExitMarginMs - 1));
  EXPECT_EQ("kill-children", Tick(kT0 + 5000 + kChildExitMarginMs));
  EXPECT_EQ("signal a KILL; end-run a; done a/1: worker w1 shut down; forget a", Ends("a", Killed(SIGKILL)));
  EXPECT_TRUE(core_->done());
}

TEST_F(WorkerCoreTest, AMessageThatDoesNotDecodeIsDroppedAndChangesNothing) {
  // A WORKER_SPAWN without its slots and reason, a JOB_ASSIGN without its job: neither acts.
  EXPECT_EQ("", Deliver(wire::MakeMessage(MsgType::kWorkerSpawn).Set("name", S("c1"))));
  EXPECT_EQ("", Deliver(wire::MakeMessage(MsgType::kJobAssign).Set("attempt", Datum(int64_t{1}))));
  EXPECT_EQ("", Tick(now_));
  EXPECT_EQ("|", Ready());
}

TEST_F(WorkerCoreTest, ChildWorkersAreNotStartedWhileDraining) {
  Deliver(Drain());
  EXPECT_EQ("", Deliver(wire::MakeMessage(MsgType::kWorkerSpawn)
                            .Set("name", S("c1"))
                            .Set("slots", Datum(int64_t{2}))
                            .Set("reason", S("test"))));
  EXPECT_EQ("", Tick(now_));
  EXPECT_TRUE(core_->done());
}

TEST_F(WorkerCoreTest, TheNoopExecutorCompletesJobsAtOnce) {
  config_.noop = true;
  Reset();
  EXPECT_EQ("done a/1: ok", Deliver(Assign("a", 1)));
}

}  // namespace
}  // namespace titan::worker
