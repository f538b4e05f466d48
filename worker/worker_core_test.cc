// WorkerCore driven by hand with a fake clock and a fake OS edge: no process, no socket, no sleep.
// The fake edge answers the core's commands the way the real one does (files in the cache, spawns
// that succeed with made-up pids) and records them; the tests read that record.
#include "worker/worker_core.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <set>

namespace titan::worker {
namespace {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

Datum S(const std::string& s) { return Datum(Text{s}); }

constexpr int64_t kT0 = 1'000'000;  // monotonic ms
constexpr int64_t kHour = 3'600'000;

// "done a/1: exit code 3 (cancelled)", "started a/1", "status s: ready", or Render(c).
std::string Brief(const Command& c) {
  if (c.kind != Command::Kind::kSend) return Render(c);
  const Message& m = c.msg;
  const std::string run = std::string(m.Bytes("id")) + "/" + std::to_string(m.Int("attempt"));
  switch (m.type) {
    case MsgType::kJobStarted:
      return "started " + run;
    case MsgType::kJobDone: {
      const auto& r = std::get<wire::Map>(m.Find("result")->v);
      std::string out =
          "done " + wire::FieldStr(r, "id") + "/" + std::to_string(*wire::FieldInt(r, "attempt"));
      const std::string reason = wire::FieldStr(r, "reason");
      out += ": " + (reason.empty() ? "ok" : reason);
      if (std::get<bool>(wire::FindField(r, "cancelled")->v)) out += " (cancelled)";
      return out;
    }
    case MsgType::kServiceStatus:
      return "status " + run + (m.Bool("ready") ? ": ready" : ": " + std::string(m.Bytes("reason")));
    case MsgType::kHeartbeat:
      return m.Bool("draining") ? "heartbeat draining" : "heartbeat";
    default:
      return Render(c);
  }
}

class WorkerCoreTest : public ::testing::Test {
 protected:
  WorkerCoreTest() { Reset(); }

  void Reset() { core_ = std::make_unique<WorkerCore>(config_); }

  // Both clocks at this test's time: the wall clock `wall_offset_` away from the monotonic one.
  Instant Now() const { return Instant{now_, now_ + 1'700'000'000'000 + wall_offset_}; }

  // Plays the OS edge until the core has nothing more to say; returns what it was asked, "; "-joined.
  std::string Run() {
    std::string out;
    for (std::vector<Command> cmds; !(cmds = core_->TakeCommands()).empty();) {
      for (const Command& c : cmds) {
        out += (out.empty() ? "" : "; ") + Brief(c);
        Answer(c);
      }
    }
    return out;
  }

  void Answer(const Command& c) {
    using K = Command::Kind;
    if (c.kind == K::kFetch && !missing_.count(c.sha256)) core_->OnFile(c.sha256, Status::Ok());
    if (c.kind == K::kLaunch) core_->OnLaunched(c.id, c.attempt, Result<int64_t>(next_pid_++), Now());
    if (c.kind == K::kRespawn) {
      core_->OnLaunched(
          c.id, c.attempt,
          fail_respawn_ ? Result<int64_t>(Status::Error("no such file")) : Result<int64_t>(next_pid_++),
          Now());
    }
    if (c.kind == K::kSpawnChild) {
      children_.insert(c.child.name);
      core_->OnChildStarted(c.child.name);
    }
    if (c.kind == K::kKillChildren) {
      for (const std::string& name : std::exchange(children_, {})) core_->OnChildExit(name);
    }
  }

  std::string Deliver(const Message& msg) {
    core_->OnMessage(msg, Now());
    return Run();
  }

  std::string Tick(int64_t to) {
    now_ = to;
    core_->OnTick(Now());
    return Run();
  }

  // The process exited and its output drained; then the loop's tick.
  std::string Ends(const std::string& id, exec::ExitStatus status) {
    core_->OnExit(id, status, Now());
    std::string out = Run();
    core_->OnOutputDone(id);
    const std::string tick = Tick(now_);
    return out + (out.empty() || tick.empty() ? "" : "; ") + tick;
  }

  Message Assign(const std::string& id, int64_t attempt, wire::Map extra = {},
                 const std::string& sha = "f1") {
    wire::Map spec = {{"id", S(id)}, {"file", S("job.sh")}};
    for (auto& kv : extra) spec.push_back(std::move(kv));
    Message m = wire::MakeMessage(MsgType::kJobAssign);
    m.Set("job", Datum(std::move(spec))).Set("attempt", Datum(attempt)).Set("file_sha256", S(sha));
    m.Set("file_size", Datum(int64_t{6}));
    return m;
  }

  static Message Cancel(const std::string& id, int64_t attempt,
                        const std::string& reason = "stopped by request") {
    Message m = wire::MakeMessage(MsgType::kJobCancel);
    return m.Set("id", S(id)).Set("attempt", Datum(attempt)).Set("reason", S(reason));
  }

  static Message Welcome() {
    return wire::MakeMessage(MsgType::kWorkerWelcome).Set("heartbeat_ms", Datum(int64_t{1000}));
  }

  static Message Drain() { return wire::MakeMessage(MsgType::kWorkerDrain).Set("reason", S("operator")); }

  static wire::Map Service(int64_t max_restarts) {
    return {{"job_type", S("SERVICE")}, {"max_restarts", Datum(max_restarts)}};
  }

  // "a/1 b/2" of WORKER_READY.running, "| c/1:<reason>" of its finished results.
  std::string Ready() const {
    const wire::WorkerReadyMsg ready = core_->ReadyMessage();
    std::string out;
    for (const wire::JobRef& r : ready.running) out += r.id + "/" + std::to_string(r.attempt) + " ";
    out += "|";
    for (const wire::JobResult& r : ready.finished) out += " " + r.id + "/" + std::to_string(r.attempt);
    return out;
  }

  static constexpr exec::ExitStatus Exited(int code) { return {exec::ExitStatus::Kind::kExited, code, 0}; }
  static constexpr exec::ExitStatus Killed(int sig) { return {exec::ExitStatus::Kind::kSignaled, 0, sig}; }

  WorkerCoreConfig config_{.name = "w1",
                           .host = "h",
                           .pid = 7,
                           .slots = 4,
                           .capabilities = {"GENERAL"},
                           .broker = "127.0.0.1:9090",
                           .kill_grace_ms = 5000,
                           .drain_grace_ms = 30000};
  std::unique_ptr<WorkerCore> core_;
  int64_t now_ = kT0;
  int64_t wall_offset_ = 0;
  int64_t next_pid_ = 100;
  std::set<std::string> missing_;  // files not in the cache: their fetch goes on until OnFile
  std::set<std::string> children_;
  bool fail_respawn_ = false;
};

TEST_F(WorkerCoreTest, AJobRunsAndIsReportedOnceItExitedAndItsOutputDrained) {
  EXPECT_EQ("fetch f1; launch a/1; started a/1", Deliver(Assign("a", 1)));
  EXPECT_EQ("a/1:running", core_->RenderJobs());
  core_->OnExit("a", Exited(0), Now());
  EXPECT_EQ("signal a KILL", Run());  // whatever it left behind in its group
  EXPECT_EQ("", Tick(now_ + 10));     // its output is still flowing
  core_->OnOutputDone("a");
  EXPECT_EQ("end-run a; done a/1: ok; forget a", Tick(now_));
  EXPECT_EQ("", core_->RenderJobs());
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
  EXPECT_EQ("launch a/1; launch b/1; started a/1; started b/1", Run());
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
      "a/2; "
      "started a/2",
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
  EXPECT_EQ("new-session; announce", Deliver(Welcome()));
  EXPECT_EQ("new-session", Deliver(Welcome()));  // announced once
  EXPECT_EQ("", Deliver(wire::MakeMessage(MsgType::kJobAck).Set("id", S("a")).Set("attempt", Datum(1))));
  EXPECT_EQ("b/1 |", Ready());
}

TEST_F(WorkerCoreTest, ReadyMessageNamesThisWorker) {
  const Message ready = core_->ReadyMessage().ToMessage();
  EXPECT_EQ(
      "{name: \"w1\", host: \"h\", pid: 7, slots: 4, capabilities: [\"GENERAL\"], running: [], finished: []}",
      wire::Render(Datum(ready.body)));
}

TEST_F(WorkerCoreTest, AJobTimesOutThenIsKilledAfterTheGrace) {
  EXPECT_EQ("fetch f1; launch a/1; started a/1",
            Deliver(Assign("a", 1, {{"timeout_ms", Datum(int64_t{10000})}})));
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

TEST_F(WorkerCoreTest, AServiceCrashLoopRestartsWithBackoffThenGivesUp) {
  EXPECT_EQ("fetch f1; launch s/1; started s/1; status s/1: ready", Deliver(Assign("s", 1, Service(2))));
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

TEST_F(WorkerCoreTest, AServiceThatCannotBeRestartedEndsWithWhy) {
  Deliver(Assign("s", 1, Service(5)));
  Ends("s", Exited(1));
  fail_respawn_ = true;
  EXPECT_EQ("respawn s (restart 1)", Tick(kT0 + 500));
  EXPECT_EQ("done s/1: cannot restart the service: no such file; forget s", Tick(kT0 + 500));
}

TEST_F(WorkerCoreTest, AServiceIsProbedUntilReadyAndStoppedWhenItTurnsUnhealthy) {
  EXPECT_EQ("fetch f1; launch s/1; started s/1",
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
