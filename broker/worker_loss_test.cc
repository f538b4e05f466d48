// A worker lost under its runs: what a pending stop, a broker stall and fencing make of them.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class WorkerLossTest : public BrokerCoreTest {
 protected:
  // The JOB_CANCELs sent to `worker` so far: "id/attempt" each, in order.
  std::string CancelsTo(const std::string& worker) {
    std::string out;
    for (const auto& o : sent_) {
      if (o.kind != Outgoing::kWorker || o.identity != "id-" + worker || o.msg.type != MsgType::kJobCancel)
        continue;
      const Result<wire::JobCancelMsg> cancel = wire::JobCancelMsg::From(o.msg);
      out +=
          (out.empty() ? "" : " ") + (cancel.ok() ? cancel->id + "/" + std::to_string(cancel->attempt) : "?");
    }
    return out;
  }

  // "STATE: reason" of the last EVENT_JOB of `id` in `state` sent so far; "" when none.
  std::string Published(const std::string& id, const std::string& state) {
    std::string out;
    for (const auto& o : sent_) {
      if (o.kind != Outgoing::kEvent || o.msg.type != MsgType::kEventJob) continue;
      const Result<wire::EventJobMsg> e = wire::EventJobMsg::From(o.msg);
      if (e.ok() && e->id == id && e->state == state) out = e->state + ": " + e->reason.value_or("");
    }
    return out;
  }

  // Submits job `id` with on_worker_lost `lost` ("" for none); the reply.
  Message SubmitLost(const std::string& id, const std::string& lost) {
    wire::JobSpec spec = Spec({id});
    if (!lost.empty()) spec.on_worker_lost = lost;
    return Client(wire::JobSubmitMsg{.jobs = {spec}, .files = {JobFile()}}.ToMessage());
  }

  void Fenced(const std::string& worker, const std::string& id, int64_t attempt = 1) {
    wire::JobResult r{.id = id, .attempt = attempt, .exit_code = -1, .signal = 9, .cancelled = false};
    r.reason = "titan: killed: no contact with the broker for 1.6 s; the broker requeues this run";
    r.fenced = true;
    core_->OnWorker("id-" + worker, wire::JobDoneMsg{.result = r}.ToMessage(), now_);
    Turn();
  }
};

TEST_F(WorkerLossTest, AStopIsLostWhenItsWorkerIsDeclaredLostFirst) {
  Join("w1", 1);
  Join("w2", 1);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  Client(wire::JobStopMsg{.id = "a"}.ToMessage());
  EXPECT_EQ("a/1", CancelsTo("w1"));
  Advance(4000, {"w2"});  // w1 never confirms: it is declared lost
  EXPECT_EQ("CANCELLED", State("a"));
  EXPECT_EQ("stopped by request; worker w1 missed 3 heartbeats before it confirmed the stop",
            core_->FindJob("a")->reason);
  EXPECT_EQ("", Assignments());  // never requeued
  EXPECT_EQ("w2:0/1", core_->RenderWorkers());
  // w1 comes back still running it: it is told to cancel it, and it is not adopted.
  sent_.clear();
  Join("w1", 1, {"GENERAL"}, {wire::JobRef{.id = "a", .attempt = 1}});
  EXPECT_EQ("a/1", CancelsTo("w1"));
  EXPECT_EQ("CANCELLED", State("a"));
  EXPECT_EQ("w1:0/1 w2:0/1", core_->RenderWorkers());
}

TEST_F(WorkerLossTest, AStoppedJobWhoseWorkerReturnsWithoutItIsCancelledNotRequeued) {
  Join("w1", 1);
  Submit({{"a"}});
  Assignments();
  Client(wire::JobStopMsg{.id = "a"}.ToMessage());
  Join("w1", 1);  // back (a new connection) without the run
  EXPECT_EQ("CANCELLED", State("a"));
  EXPECT_EQ("", Assignments());
}

TEST_F(WorkerLossTest, ABrokerStallRerunsEveryRunningJob) {
  Join("w1", 2);
  Join("w2", 2);
  Submit({{"a"}, {"b"}});
  EXPECT_EQ("a@w1 b@w2", Assignments());
  now_ += 10'000;  // SIGSTOP, then SIGCONT: nothing was heard, because the broker was not running
  Turn();
  EXPECT_EQ("w1:1/2 w2:1/2", core_->RenderWorkers());
  EXPECT_EQ("RUNNING RUNNING", State("a") + " " + State("b"));
  Advance(2000, {"w1", "w2"});
  EXPECT_EQ("", Assignments());
  // Liveness counts the broker's running time only: a worker silent while it runs is still lost.
  Advance(4000, {"w2"});
  EXPECT_EQ("w2:2/2", core_->RenderWorkers());
  EXPECT_EQ("a@w2", Assignments());
}

TEST_F(WorkerLossTest, ARejoiningWorkerGetsBackTheRunsRequeuedButNotStartedElsewhere) {
  Join("w1", 1);
  Submit({{"a"}});
  Assignments();
  Advance(4000, {});  // lost for real; nobody else can take a
  EXPECT_EQ("QUEUED", State("a"));
  Join("w1", 1, {"GENERAL"}, {wire::JobRef{.id = "a", .attempt = 1}});
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("w1:1/1", core_->RenderWorkers());
  EXPECT_EQ("", Assignments());
  Done("w1", "a", 0);
  EXPECT_EQ("COMPLETED", State("a"));
}

TEST_F(WorkerLossTest, TheWelcomeGivesALeaseShorterThanTheLostWorkerTimeoutByMoreThanAHeartbeat) {
  Join("w1", 1);
  std::optional<int64_t> lease;
  for (const auto& o : sent_) {
    if (o.msg.type == MsgType::kWorkerWelcome) lease = wire::WorkerWelcomeMsg::From(o.msg)->lease_ms;
  }
  EXPECT_EQ(1500, lease.value_or(0));  // lost after 3000 ms of silence; heartbeats every 1000 ms
  EXPECT_LT(LeaseMs(config_) + config_.heartbeat_ms, config_.heartbeat_ms * config_.liveness);
}

// A worker whose lease ran out tells the answer to its newest registration by the session echoed.
TEST_F(WorkerLossTest, TheWelcomeEchoesTheSessionOfTheRegistrationItAnswers) {
  wire::WorkerReadyMsg ready{.name = "w1", .host = "h", .pid = 1, .slots = 1, .capabilities = {"GENERAL"}};
  ready.session = 7;
  core_->OnWorker("id-w1", std::move(ready).ToMessage(), now_);
  Turn();
  std::optional<int64_t> session;
  for (const auto& o : sent_) {
    if (o.msg.type == MsgType::kWorkerWelcome) session = wire::WorkerWelcomeMsg::From(o.msg)->session;
  }
  EXPECT_EQ(7, session.value_or(0));
}

TEST(LeaseMs, EndsBeforeThisBrokerOrARestartedOneGivesTheRunsAway) {
  CoreConfig c;  // the defaults: heartbeats every 1 s, lost after 10, 10 s of recovery grace
  EXPECT_EQ(8500, LeaseMs(c));
  c.recovery_grace_ms = 5000;  // a restarted broker would requeue sooner than this one: 4.5 s
  EXPECT_EQ(4500, LeaseMs(c));
  c.recovery_grace_ms = 60000;  // a long grace does not lengthen it past this broker's own timeout
  EXPECT_EQ(8500, LeaseMs(c));
  c.recovery_grace_ms = 0;  // never below 1.5 heartbeats: a worker hears from the broker every heartbeat
  EXPECT_EQ(1500, LeaseMs(c));
  c.liveness = 3;
  c.recovery_grace_ms = 10000;
  EXPECT_EQ(1500, LeaseMs(c));
}

TEST_F(WorkerLossTest, AStalledWorkerKeepsRunningJobsThatWereGivenAway) {
  // Fenced: its worker killed it past the lease; the broker runs it again (there, now it is back in touch).
  Join("w1", 1);
  Submit({{"a"}});
  Assignments();
  Fenced("w1", "a");
  EXPECT_EQ(
      "QUEUED: worker w1 killed it: titan: killed: no contact with the broker for 1.6 s; the broker requeues "
      "this run; requeued",
      Published("a", "QUEUED"));
  EXPECT_EQ("a@w1", Assignments());
  EXPECT_EQ(1, core_->FindJob("a")->lost);
  Done("w1", "a", 0, 2);
  EXPECT_EQ("COMPLETED", State("a"));
}

TEST_F(WorkerLossTest, OnWorkerLostFailEndsFailedInsteadOfRunningAgain) {
  Join("w1", 2);
  Join("w2", 2);
  SubmitLost("once", "fail");
  SubmitLost("fenced", "fail");
  EXPECT_EQ("once@w1 fenced@w2", Assignments());
  Fenced("w2", "fenced");
  EXPECT_EQ("FAILED", State("fenced"));
  Advance(4000, {"w2"});
  EXPECT_EQ("FAILED", State("once"));
  EXPECT_EQ("worker w1 missed 3 heartbeats; worker lost; not retried by request (on_worker_lost \"fail\")",
            core_->FindJob("once")->reason);
  EXPECT_EQ("", Assignments());
}

// A worker process that registered before (session > 1) and comes back without a run the broker believes
// it has either never got the assignment (lost with a broker that died before sending it, or with a
// connection) or killed the run for its lease: the run is requeued without counting a loss (max_lost), as
// its worker did not die. A new process (session 1) lacks it because its previous life died with it: a loss.
TEST_F(WorkerLossTest, ARunTheSameWorkerProcessLacksIsRequeuedAsNoLoss) {
  auto rejoin = [&](int64_t session) {
    wire::WorkerReadyMsg m{.name = "w1", .host = "h", .pid = 1, .slots = 1, .capabilities = {"GENERAL"}};
    m.session = session;
    core_->OnWorker("id-w1", std::move(m).ToMessage(), now_);
    Turn();
  };
  rejoin(1);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  for (int64_t session = 2; session <= 5; ++session) {  // more times than max_lost (3)
    rejoin(session);
    EXPECT_EQ(0, core_->FindJob("a")->lost);
    EXPECT_EQ("a@w1", Assignments()) << "requeued, and assigned again";
  }
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ(5, core_->FindJob("a")->attempt);
  rejoin(1);  // a new process: its previous life died with the run
  EXPECT_EQ(1, core_->FindJob("a")->lost);
}

TEST_F(WorkerLossTest, OnWorkerLostIsRequeueOrFail) {
  EXPECT_EQ("JOB_ACCEPTED", std::string(wire::NameOf(SubmitLost("a", "requeue").type)));
  const Message refused = SubmitLost("b", "retry");
  EXPECT_EQ(
      "job 'b': on_worker_lost 'retry' is unknown; use \"requeue\" (run it again elsewhere, the default) or "
      "\"fail\" (never run it twice)",
      std::string(refused.Bytes("reason")));
}

}  // namespace
}  // namespace titan::broker
