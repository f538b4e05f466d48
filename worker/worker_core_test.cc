// WorkerCore: running jobs (files, launches, exits, stops, timeouts, re-registration).
#include <signal.h>

#include "worker/worker_core_fixture.h"

namespace titan::worker {
namespace {

TEST_F(WorkerCoreTest, AJobRunsAndIsReportedOnceItExitedAndItsOutputDrained) {
  EXPECT_EQ("fetch f1; launch a/1", Deliver(Assign("a", 1)));
  EXPECT_EQ("a/1:running", core_->RenderJobs());
  core_->OnExit("a", Exited(0), Now());
  EXPECT_EQ("signal a KILL", Run());  // whatever it left behind in its group
  EXPECT_EQ("", Tick(now_ + 10));     // its output is still flowing
  core_->OnOutputDone("a");
  EXPECT_EQ("end-run a; done a/1: ok; forget a", Tick(now_));
  EXPECT_EQ("", core_->RenderJobs());
}

// Output that ended before the exit was seen: the tick of that turn ends the run (its group and
// cgroups), with no signal of its own first.
TEST_F(WorkerCoreTest, AJobWhoseOutputEndedFirstIsEndedByTheTickOfItsExit) {
  Deliver(Assign("a", 1));
  core_->OnOutputDone("a");
  EXPECT_EQ("", Tick(now_));  // still running
  core_->OnExit("a", Exited(0), Now());
  EXPECT_EQ("end-run a; done a/1: ok; forget a", Tick(now_));
}

TEST_F(WorkerCoreTest, AJobWhoseLogFileMissesOutputIsReportedAsSuch) {
  Deliver(Assign("a", 1));
  core_->OnExit("a", Exited(0), Now());
  Run();
  core_->OnOutputDone("a", /*log_truncated=*/true);
  EXPECT_EQ("end-run a; done a/1: ok (log truncated); forget a", Tick(now_));
}

TEST_F(WorkerCoreTest, AFailedExitIsReportedWithItsExitReason) {
  Deliver(Assign("a", 1));
  EXPECT_EQ("signal a KILL; end-run a; done a/1: exit code 3; forget a", Ends("a", Exited(3)));
  Deliver(Assign("b", 1));
  EXPECT_EQ("signal b KILL; end-run b; done b/1: killed by SIGSEGV (signal 11); forget b",
            Ends("b", Killed(11)));
}

TEST_F(WorkerCoreTest, OutputHeldOpenByAnEscapedProcessIsAbandonedAfterTwoSeconds) {
  Deliver(Assign("a", 1));
  core_->OnExit("a", Exited(0), Now());
  Run();
  EXPECT_EQ("", Tick(kT0 + kOutputDrainMs - 1));
  EXPECT_EQ(kT0 + kOutputDrainMs, core_->NextDue(Now()));
  EXPECT_EQ("abandon-output a", Tick(kT0 + kOutputDrainMs));
  core_->OnOutputDone("a");
  EXPECT_EQ("end-run a; done a/1: ok; forget a", Tick(now_));
}

TEST_F(WorkerCoreTest, AFileNotInTheCacheIsFetchedOnceForEveryJobWaitingForIt) {
  missing_ = {"big"};
  EXPECT_EQ("fetch big", Deliver(Assign("a", 1, {}, "big")));
  EXPECT_EQ("", Deliver(Assign("b", 1, {}, "big")));
  EXPECT_EQ("a/1 b/1 |", Ready());  // waiting jobs are held: the broker must not requeue them
  EXPECT_EQ(2, core_->Busy());
  core_->OnFile("big", Status::Ok());
  EXPECT_EQ("launch a/1; launch b/1", Run());
}

TEST_F(WorkerCoreTest, AFileThatCannotBeFetchedFailsTheJobsWaitingForIt) {
  missing_ = {"big"};
  Deliver(Assign("a", 1, {}, "big"));
  core_->OnFile("big", Status::Error("sha256 mismatch"));
  EXPECT_EQ("done a/1: sha256 mismatch", Run());
}

TEST_F(WorkerCoreTest, ALaunchThatFailsIsReportedAsAFailedStart) {
  core_->OnMessage(Assign("a", 1), Now());
  for (const Command& c : core_->TakeCommands()) {
    if (c.kind == Command::Kind::kFetch) core_->OnFile(c.sha256, Status::Ok());
  }
  for (const Command& c : core_->TakeCommands()) {
    if (c.kind == Command::Kind::kLaunch)
      core_->OnLaunched(c.id, c.attempt,
                        Result<int64_t>(Status::Error("cannot run 'job.sh': Exec format error")), Now());
  }
  EXPECT_EQ("done a/1: cannot run 'job.sh': Exec format error", Run());
  EXPECT_EQ("", core_->RenderJobs());
}

TEST_F(WorkerCoreTest, DuplicateAssignOfTheSameAttemptIsRefusedAndTheRunGoesOn) {
  Deliver(Assign("a", 1));
  EXPECT_EQ("done a/1: job 'a' is already running on worker w1", Deliver(Assign("a", 1)));
  EXPECT_EQ("a/1:running", core_->RenderJobs());
}

TEST_F(WorkerCoreTest, ANewerAttemptSupersedesAnOlderRunStillEndingAndStartsWhenItIsGone) {
  Deliver(Assign("a", 1));
  EXPECT_EQ("signal a TERM", Deliver(Assign("a", 2)));
  EXPECT_EQ("a/1:stopping(kill@1005000)", core_->RenderJobs());
  EXPECT_EQ(
      "signal a KILL; end-run a; done a/1: superseded by attempt 2 (cancelled); forget a; fetch f1; launch "
      "a/2",
      Ends("a", Killed(SIGTERM)));
  EXPECT_EQ("a/2:running", core_->RenderJobs());
}

TEST_F(WorkerCoreTest, StopOfAnUnknownJobOrAnotherAttemptDoesNothing) {
  EXPECT_EQ("", Deliver(Cancel("ghost", 1)));
  Deliver(Assign("a", 2));
  EXPECT_EQ("", Deliver(Cancel("a", 1)));
  EXPECT_EQ("a/2:running", core_->RenderJobs());
  EXPECT_EQ("signal a TERM", Deliver(Cancel("a", 2)));
  EXPECT_EQ("signal a KILL; end-run a; done a/2: stopped by request (cancelled); forget a",
            Ends("a", Killed(SIGTERM)));
}

TEST_F(WorkerCoreTest, StopOfAJobWaitingForItsFileEndsItAtOnce) {
  missing_ = {"big"};
  Deliver(Assign("a", 1, {}, "big"));
  EXPECT_EQ("done a/1: stopped by request (cancelled)", Deliver(Cancel("a", 1)));
  core_->OnFile("big", Status::Ok());
  EXPECT_EQ("", Run());  // nothing left to launch
}

TEST_F(WorkerCoreTest, ReRegistrationResendsUnacknowledgedResultsUntilJobAck) {
  Deliver(Assign("a", 1));
  Deliver(Assign("b", 1));
  Ends("a", Exited(0));
  EXPECT_EQ("b/1 | a/1", Ready());
  EXPECT_EQ("reregister",
            Deliver(wire::MakeMessage(MsgType::kDisconnect).Set("reason", S("unknown worker"))));
  // The reaper learns how long the worker's runs may finish should it die (no lease: a beat of 1 s).
  EXPECT_EQ("runs-grace 250ms; new-session; announce", Deliver(Welcome()));
  EXPECT_EQ("runs-grace 250ms; new-session", Deliver(Welcome()));  // announced once
  EXPECT_EQ("acked a/1",
            Deliver(wire::MakeMessage(MsgType::kJobAck).Set("id", S("a")).Set("attempt", Datum(1))));
  EXPECT_EQ("b/1 |", Ready());
}

TEST_F(WorkerCoreTest, ARestartedBrokersDisconnectsForQueuedMessagesReregisterOnce) {
  auto disconnect = [] { return wire::MakeMessage(MsgType::kDisconnect).Set("reason", S("unknown worker")); };
  EXPECT_EQ("reregister", Deliver(disconnect()));
  for (int i = 0; i < 8; ++i) EXPECT_EQ("", Deliver(disconnect()));  // one per queued heartbeat or log
  Tick(now_ + kReregisterQuietMs);
  EXPECT_EQ("reregister", Deliver(disconnect())) << "that WORKER_READY may have been lost: ask again";
  Deliver(Welcome());
  EXPECT_EQ("reregister", Deliver(disconnect())) << "a new DISCONNECT after a WELCOME is a new one";
}

TEST_F(WorkerCoreTest, OneJobAckForgetsEveryResultItLists) {
  for (const char* id : {"a", "b", "c", "d"}) Deliver(Assign(id, 1));
  for (const char* id : {"a", "b", "c"}) Ends(id, Exited(0));
  EXPECT_EQ("d/1 | a/1 b/1 c/1", Ready());
  const wire::JobAckMsg ack{
      .id = "a",
      .attempt = 1,
      .more = std::vector<wire::JobRef>{{.id = "c", .attempt = 1}, {.id = "b", .attempt = 2}}};
  EXPECT_EQ("acked a/1; acked c/1", Deliver(ack.ToMessage()));  // the reaper stops watching them
  EXPECT_EQ("d/1 | b/1", Ready());                              // b's attempt 2 is not the result it holds
}

TEST_F(WorkerCoreTest, ReadyMessageNamesThisWorker) {
  const Message ready = core_->ReadyMessage().ToMessage();
  EXPECT_EQ(
      "{name: \"w1\", host: \"h\", pid: 7, slots: 4, capabilities: [\"GENERAL\"], running: [], finished: [], "
      "session: 1, cpu_milli: 0, memory_mb: 0, gpus: 0}",  // its capacity for requests (none in this test)
      wire::Render(Datum(ready.body)));
  EXPECT_EQ(2, core_->ReadyMessage().session.value_or(0));  // each registration is a new session
}

TEST_F(WorkerCoreTest, AJobTimesOutThenIsKilledAfterTheGrace) {
  EXPECT_EQ("fetch f1; launch a/1", Deliver(Assign("a", 1, {{"timeout_ms", Datum(int64_t{10000})}})));
  EXPECT_EQ(kT0 + 1000, core_->NextDue(Now()));  // the loop wakes at least every second
  EXPECT_EQ("", Tick(kT0 + 9999));
  EXPECT_EQ(kT0 + 10000, core_->NextDue(Now()));
  EXPECT_EQ("signal a TERM", Tick(kT0 + 10000));
  EXPECT_EQ("", Tick(kT0 + 14999));
  EXPECT_EQ("signal a KILL", Tick(kT0 + 15000));
  EXPECT_EQ("", Tick(kT0 + 16000));  // once
  EXPECT_EQ("signal a KILL; end-run a; done a/1: timed out; forget a", Ends("a", Killed(SIGKILL)));
}

// The wall clock stepped an hour forward, then two hours back, while a job with a 10 s timeout ran:
// only monotonic time counts, so the timeout and the kill grace fire exactly when they are due.
TEST_F(WorkerCoreTest, AWallClockJumpFiresNoTimeoutAndKillsNothingEarly) {
  Deliver(Assign("a", 1, {{"timeout_ms", Datum(int64_t{10000})}}));
  wall_offset_ = kHour;
  EXPECT_EQ("", Tick(kT0 + 5000));
  wall_offset_ = -kHour;
  EXPECT_EQ("", Tick(kT0 + 9999));
  EXPECT_EQ(kT0 + 10000, core_->NextDue(Now()));
  EXPECT_EQ("signal a TERM", Tick(kT0 + 10000));
  wall_offset_ = 2 * kHour;
  EXPECT_EQ("", Tick(kT0 + 14999));
  EXPECT_EQ("signal a KILL", Tick(kT0 + 15000));
}

TEST_F(WorkerCoreTest, AHeartbeatCarriesTheBusySlotsAndTheMachineWithItsCpuShareSinceTheLastOne) {
  Deliver(Assign("a", 1));
  const MachineSample first{.cpu = CpuTimes{.busy = 100, .total = 1000},
                            .cpus = 2,
                            .mem = MemInfo{.total_bytes = 1000, .available_bytes = 250}};
  const wire::HeartbeatMsg hb1 = core_->Heartbeat(first);
  EXPECT_EQ(1, hb1.busy);
  EXPECT_FALSE(hb1.draining.has_value());
  ASSERT_TRUE(hb1.machine.has_value());
  EXPECT_FALSE(hb1.machine->cpu_permille.has_value());  // one sample: no share yet
  EXPECT_EQ(750, hb1.machine->mem_used_bytes);
  const wire::HeartbeatMsg hb2 = core_->Heartbeat(MachineSample{.cpu = CpuTimes{.busy = 400, .total = 2000}});
  EXPECT_EQ(300, hb2.machine->cpu_permille);
  // A sample without CPU times keeps the last one as the base of the next share.
  core_->Heartbeat(MachineSample{});
  EXPECT_EQ(
      100,
      core_->Heartbeat(MachineSample{.cpu = CpuTimes{.busy = 500, .total = 3000}}).machine->cpu_permille);
}

}  // namespace
}  // namespace titan::worker

namespace titan::worker {
namespace {

// The lease epoch of an assignment (JOB_ASSIGN.epoch) goes back with the run: in WORKER_READY's running
// list while it runs, and in its result (JOB_DONE, and WORKER_READY's finished list until acknowledged).
TEST_F(WorkerCoreTest, ARunReportsTheEpochItWasAssignedUnder) {
  Message assign = Assign("a", 1);
  assign.Set("epoch", Datum(int64_t{6}));
  Deliver(assign);
  Deliver(Assign("b", 1));  // no epoch (an SQLite broker): none comes back
  const wire::WorkerReadyMsg ready = core_->ReadyMessage();
  ASSERT_EQ(2u, ready.running.size());
  EXPECT_EQ(std::optional<int64_t>(6), ready.running[0].epoch);
  EXPECT_EQ(std::nullopt, ready.running[1].epoch);
  core_->OnExit("a", Exited(0), Now());
  Run();
  core_->OnOutputDone("a");
  std::optional<int64_t> reported;
  core_->OnTick(Now());
  for (const Command& c : core_->TakeCommands()) {
    if (c.kind != Command::Kind::kSend || c.msg.type != MsgType::kJobDone) continue;
    reported = wire::JobDoneMsg::From(c.msg)->result.epoch;
  }
  EXPECT_EQ(std::optional<int64_t>(6), reported);
  const wire::WorkerReadyMsg again = core_->ReadyMessage();
  ASSERT_EQ(1u, again.finished.size());
  EXPECT_EQ(std::optional<int64_t>(6), again.finished[0].epoch);
}

}  // namespace
}  // namespace titan::worker
