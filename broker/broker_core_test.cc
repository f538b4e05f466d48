// BrokerCore driven by hand: messages in, time advanced explicitly, outbox and state checked.
#include "artifacts/sha256.h"
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

TEST_F(BrokerCoreTest, RunsAJobToCompletionAndAcks) {
  EXPECT_EQ("JOB_ACCEPTED", std::string(wire::NameOf(Submit({{"a"}}).type)));
  EXPECT_EQ("QUEUED", State("a"));
  Join("w1", 4);
  EXPECT_EQ("a@w1", Assignments());
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("w1:1/4", core_->RenderWorkers());
  Done("w1", "a", 0);
  EXPECT_EQ("COMPLETED", State("a"));
  EXPECT_EQ("w1:0/4", core_->RenderWorkers());
}

// The results a turn records are acknowledged by one JOB_ACK per worker, listing each.
TEST_F(BrokerCoreTest, ATurnAcknowledgesEachWorkersResultsInOneMessage) {
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}, {"b"}, {"c"}, {"d"}}).type);
  Join("w1", 2);
  Join("w2", 2);
  const std::string assigned = Assignments();
  ASSERT_EQ(4u, std::count(assigned.begin(), assigned.end(), '@')) << assigned;
  std::map<std::string, std::string> where;  // job -> worker
  for (const std::string id : {"a", "b", "c", "d"}) {
    where[id] = assigned.find(id + "@w1") != std::string::npos ? "w1" : "w2";
  }
  for (const auto& [id, worker] : where) {
    core_->OnWorker(
        "id-" + worker,
        wire::JobDoneMsg{.result = {.id = id, .attempt = 1, .exit_code = 0, .signal = 0}}.ToMessage(), now_);
  }
  std::map<std::string, std::vector<std::string>> acked;  // worker identity -> ids, one message each
  int messages = 0;
  for (const Outgoing& o : Turn()) {
    if (o.kind != Outgoing::kWorker || o.msg.type != MsgType::kJobAck) continue;
    ++messages;
    const Result<wire::JobAckMsg> ack = wire::JobAckMsg::From(o.msg);
    ASSERT_TRUE(ack.ok()) << ack.message();
    acked[o.identity].push_back(ack->id + "/" + std::to_string(ack->attempt));
    for (const wire::JobRef& more : ack->more.value_or(std::vector<wire::JobRef>{}))
      acked[o.identity].push_back(more.id + "/" + std::to_string(more.attempt));
  }
  EXPECT_EQ(2, messages);
  std::map<std::string, std::vector<std::string>> expected;
  for (const auto& [id, worker] : where) expected["id-" + worker].push_back(id + "/1");
  EXPECT_EQ(expected, acked);
  for (const std::string id : {"a", "b", "c", "d"}) EXPECT_EQ("COMPLETED", State(id));
  // Nothing left to acknowledge: the next turn sends none.
  for (const Outgoing& o : Turn()) EXPECT_NE(MsgType::kJobAck, o.msg.type);
}

// A worker that registers draining (a dead worker's reaper handing over its last results) gets no jobs;
// a new process under that name afterwards is a worker like any other.
TEST_F(BrokerCoreTest, AWorkerRegisteringDrainingGetsNoJobsAndANewProcessUnderItsNameDoes) {
  wire::WorkerReadyMsg reaper{.name = "w1", .host = "h", .pid = 77, .slots = 1, .capabilities = {"GENERAL"}};
  reaper.draining = true;
  core_->OnWorker("id-reaper", std::move(reaper).ToMessage(), now_);
  Turn();
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  EXPECT_EQ("", Assignments());
  EXPECT_EQ("QUEUED", State("a"));
  Join("w1", 4);  // pid 1: another process
  EXPECT_EQ("a@w1", Assignments());
}

TEST_F(BrokerCoreTest, LeastLoadSpreadsAndPriorityOrders) {
  Join("w1", 2);
  Join("w2", 2);
  Submit({{"a"}, {"b"}, {"c"}, {"d"}});
  EXPECT_EQ("a@w1 b@w2 c@w1 d@w2", Assignments());
  Submit({{"low", {}, 1}, {"high", {}, 10}, {"mid", {}, 5}, {"high2", {}, 10}});
  Done("w1", "a", 0);
  Done("w2", "b", 0);
  Done("w1", "c", 0);
  EXPECT_EQ("high@w1 high2@w2 mid@w1", Assignments());
}

TEST_F(BrokerCoreTest, CapabilityIsStrictAndUnsatisfiableIsReported) {
  Join("w1", 4);
  Submit({{"gpu-job", {}, 1, "GPU"}, {"plain"}});
  EXPECT_EQ("plain@w1", Assignments());
  EXPECT_EQ("QUEUED", State("gpu-job"));
  const Message info = Client(wire::JobGetMsg{.id = "gpu-job"}.ToMessage());
  const auto& job = std::get<wire::Map>(info.Find("job")->v);
  std::string reason;
  for (const auto& [k, v] : job) {
    if (k == "reason") reason = std::string(v.bytes());
  }
  EXPECT_EQ("no live worker has capability GPU; start one with `titan worker --tag GPU`", reason);
  const Message stats = Client(wire::StatsGetMsg{}.ToMessage());
  EXPECT_EQ(1, stats.Int("unsatisfiable"));
  Join("g1", 1, {"GENERAL", "GPU"});
  EXPECT_EQ("gpu-job@g1", Assignments());
}

TEST_F(BrokerCoreTest, DelayWaitsOnTheTimer) {
  Join("w1", 4);
  Submit({{"later", {}, 1, "GENERAL", 500}});
  EXPECT_EQ("SCHEDULED", State("later"));
  EXPECT_EQ(now_.mono_ms + 500, core_->NextDeadline());
  now_ += 499;
  Turn();
  EXPECT_EQ("", Assignments());
  now_ += 1;
  Turn();
  EXPECT_EQ("later@w1", Assignments());
}

TEST_F(BrokerCoreTest, AffinityFollowsTheParentsWorker) {
  Join("w1", 4);
  Join("w2", 4);
  Submit({{"p1"}, {"p2"}});
  EXPECT_EQ("p1@w1 p2@w2", Assignments());
  Submit({{"child", {"p2"}, 1, "GENERAL", 0, 0, true}});
  Done("w2", "p2", 0);
  EXPECT_EQ("child@w2", Assignments());
}

TEST_F(BrokerCoreTest, SilentWorkerIsDeclaredDeadAndItsJobsMove) {
  Join("w1", 4);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  Join("w2", 4);
  // w2 keeps beating, w1 goes silent.
  for (int i = 0; i < 4; ++i) {
    now_ += 1000;
    core_->OnWorker("id-w2", wire::HeartbeatMsg{}.ToMessage(), now_);
    Turn();
  }
  EXPECT_EQ("a@w2", Assignments());
  EXPECT_EQ("w2:1/4", core_->RenderWorkers());
  EXPECT_EQ(1, core_->FindJob("a")->lost);
}

TEST_F(BrokerCoreTest, FailureWithoutRetriesIsFailedWithRetriesDead) {
  Join("w1", 4);
  Submit({{"once"}, {"thrice", {}, 1, "GENERAL", 0, 2}});
  Assignments();
  Done("w1", "once", 3);
  EXPECT_EQ("FAILED", State("once"));
  EXPECT_EQ("exit code 3", core_->FindJob("once")->reason);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    Done("w1", "thrice", 1, attempt);
    Advance(5000, {"w1"});  // past the backoff
  }
  EXPECT_EQ("DEAD", State("thrice"));
  EXPECT_EQ("exit code 1 (all 3 attempts failed)", core_->FindJob("thrice")->reason);
}

TEST_F(BrokerCoreTest, BadSubmissionsAreRefusedWhole) {
  Submit({{"a"}});
  auto code = [](const Message& m) {
    return std::string(m.Bytes("code")) + ": " + std::string(m.Bytes("reason"));
  };
  EXPECT_EQ(
      "INVALID: job id 'a' is in use: run 1 of it is still QUEUED. An id can be submitted again once every "
      "earlier job of that id has ended; wait for it (`titan status a`), stop it (`titan stop a`), or "
      "choose another id",
      code(Submit({{"b"}, {"a"}})));
  EXPECT_EQ("INVALID: unknown parent ids (child -> parent): c -> nope; nothing was submitted",
            code(Submit({{"b"}, {"c", {"nope"}}})));
  EXPECT_EQ("INVALID: the jobs form a cycle through: x, y, z; nothing was submitted",
            code(Submit({{"w"}, {"x", {"z"}}, {"y", {"x"}}, {"z", {"y"}}})));
  EXPECT_EQ("INVALID: job id 'd' appears twice in this submission", code(Submit({{"d"}, {"d"}})));
  EXPECT_EQ("UNKNOWN", State("b"));
  EXPECT_EQ("UNKNOWN", State("w"));
}

TEST_F(BrokerCoreTest, ChildrenWaitForParentsAndAreSkippedAfterAFailure) {
  Join("w1", 4);
  Submit({{"root"}, {"mid", {"root"}}, {"leaf", {"mid"}}, {"other", {"root"}}});
  EXPECT_EQ("BLOCKED", State("mid"));
  EXPECT_EQ("root@w1", Assignments());
  Done("w1", "root", 0);
  EXPECT_EQ("mid@w1 other@w1", Assignments());
  Done("w1", "mid", 2);
  EXPECT_EQ("SKIPPED", State("leaf"));
  EXPECT_EQ("parent mid ended FAILED", core_->FindJob("leaf")->reason);
  // A later submission naming a failed parent is skipped at once; one naming a completed parent runs.
  Submit({{"late", {"mid"}}, {"late2", {"root"}}});
  EXPECT_EQ("SKIPPED", State("late"));
  EXPECT_EQ("late2@w1", Assignments());
}

TEST_F(BrokerCoreTest, StopCancelsWaitingJobsAtOnceAndRunningOnesThroughTheWorker) {
  Join("w1", 1);
  Submit({{"running"}, {"waiting"}});
  Assignments();
  Client(wire::JobStopMsg{.id = "waiting"}.ToMessage());
  EXPECT_EQ("CANCELLED", State("waiting"));
  Client(wire::JobStopMsg{.id = "running"}.ToMessage());
  bool cancel_sent = false;
  for (const auto& o : sent_) cancel_sent |= o.msg.type == MsgType::kJobCancel;
  EXPECT_TRUE(cancel_sent);
  Done("w1", "running", -1, 1, true);
  EXPECT_EQ("CANCELLED", State("running"));
}

TEST_F(BrokerCoreTest, WaitRepliesWhenTheJobEndsOrAtItsTimeout) {
  Join("w1", 4);
  Submit({{"a"}, {"b"}});
  core_->OnClient({"waiter"}, 9, wire::JobWaitMsg{.id = "a", .timeout_ms = 10000}.ToMessage(), now_);
  core_->OnClient({"waiter2"}, 10, wire::JobWaitMsg{.id = "DAG-b", .timeout_ms = 100}.ToMessage(), now_);
  for (const auto& o : Turn()) EXPECT_NE(Outgoing::kClient, o.kind);
  now_ += 100;
  auto out = Turn();
  ASSERT_EQ(1u, std::count_if(out.begin(), out.end(),
                              [](const Outgoing& o) { return o.kind == Outgoing::kClient; }));
  Done("w1", "a", 0);
  bool woke = false;
  for (const auto& o : sent_) {
    if (o.kind == Outgoing::kClient && o.route == Route{"waiter"}) woke = o.msg.Int("rid") == 9;
  }
  EXPECT_TRUE(woke);
}

TEST_F(BrokerCoreTest, RestartKeepsJobsAndReconcilesRunningOnes) {
  Join("w1", 4);
  Submit({{"kept"}, {"lost"}, {"done-while-away"}, {"queued", {"kept"}}});
  EXPECT_EQ("kept@w1 lost@w1 done-while-away@w1", Assignments());
  // The broker dies; a new one opens the same journal.
  core_.reset();
  journal_.reset();
  Open();
  EXPECT_EQ("RUNNING", State("kept"));
  EXPECT_EQ("BLOCKED", State("queued"));
  // w1 returns still running "kept", with "done-while-away" finished, and without "lost".
  Join("w1", 4, {"GENERAL"}, {wire::JobRef{.id = "kept", .attempt = 1}},
       {wire::JobResult{
           .id = "done-while-away", .attempt = 1, .exit_code = 0, .signal = 0, .cancelled = false}});
  EXPECT_EQ("RUNNING", State("kept"));
  EXPECT_EQ("COMPLETED", State("done-while-away"));
  EXPECT_EQ("lost@w1", Assignments());  // requeued and placed again
  Done("w1", "kept", 0);
  EXPECT_EQ("queued@w1", Assignments());
}

TEST_F(BrokerCoreTest, RunningJobsOfAWorkerThatNeverReturnsAreRequeuedAfterTheGrace) {
  Join("w1", 4);
  Submit({{"a"}});
  Assignments();
  core_.reset();
  journal_.reset();
  Open();
  Join("w2", 4);
  Advance(4500, {"w2"});
  EXPECT_EQ("", Assignments());
  Advance(500, {"w2"});
  EXPECT_EQ("a@w2", Assignments());
}

TEST_F(BrokerCoreTest, UnknownWorkerIsToldToRegister) {
  core_->OnWorker("stranger", wire::HeartbeatMsg{}.ToMessage(), now_);
  auto out = Turn();
  ASSERT_EQ(1u, out.size());
  EXPECT_EQ(MsgType::kDisconnect, out[0].msg.type);
}

// A client may send a file it sent before by its sha256 alone; an unknown or malformed hash, or a file
// with neither content nor hash, refuses the whole submission with a reason.
TEST_F(BrokerCoreTest, AFileSentBeforeMayBeNamedByItsHash) {
  Join("w1", 4);
  Submit({{"first"}});  // sends job.sh = "exit 0"
  const std::string known = artifacts::Sha256Hex("exit 0");
  auto by = [&](const std::string& id, wire::FileBlob file) {
    return Client(
        wire::JobSubmitMsg{.jobs = {{.id = id, .file = "job.sh"}}, .files = {std::move(file)}}.ToMessage());
  };
  EXPECT_EQ(MsgType::kJobAccepted, by("again", {.name = "job.sh", .sha256 = known}).type);
  Turn();
  std::string assigned;
  for (const auto& o : sent_) {
    if (o.kind != Outgoing::kWorker || o.msg.type != MsgType::kJobAssign) continue;
    const Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(o.msg);
    if (assign.ok() && assign->job.id == "again") assigned = assign->file_sha256;
  }
  EXPECT_EQ(known, assigned);

  const std::string unknown(64, 'a');
  Message r = by("x", {.name = "job.sh", .sha256 = unknown});
  EXPECT_EQ("NOT_FOUND", std::string(r.Bytes("code")));
  EXPECT_EQ("file 'job.sh' was sent by its sha256 " + unknown +
                ", which this broker does not have; send its content",
            r.Bytes("reason"));
  r = by("y", {.name = "job.sh", .sha256 = "ABC"});
  EXPECT_EQ("file 'job.sh': sha256 'ABC' is not 64 lowercase hex digits", r.Bytes("reason"));
  r = by("z", {.name = "job.sh"});
  EXPECT_EQ("file 'job.sh' has neither content nor sha256; send one of them", r.Bytes("reason"));
  EXPECT_EQ(nullptr, core_->FindJob("x"));
  EXPECT_EQ(nullptr, core_->FindJob("z"));

  // One name twice (here by a known hash, then with other bytes) is refused, not guessed at.
  r = Client(wire::JobSubmitMsg{
      .jobs = {{.id = "twice", .file = "job.sh"}},
      .files = {{.name = "job.sh", .sha256 = known}, {.name = "job.sh", .content = "exit 3"}}}
                 .ToMessage());
  EXPECT_EQ("file 'job.sh' appears twice in this submission; send each file once", r.Bytes("reason"));
  EXPECT_EQ(nullptr, core_->FindJob("twice"));
  EXPECT_EQ(MsgType::kJobAccepted, by("still", {.name = "job.sh", .sha256 = known}).type);
}

}  // namespace
}  // namespace titan::broker

namespace titan::broker {
namespace {

// Regression: a worker that stalled past its heartbeats and came back got its own job cancelled and
// reassigned to itself, and the job ended FAILED without ever failing.
TEST_F(BrokerCoreTest, WorkerThatStallsAndReturnsKeepsItsRun) {
  Join("w1", 4);
  Submit({{"long"}});
  EXPECT_EQ("long@w1", Assignments());
  Advance(4000, {});  // w1 is silent: declared lost, its job requeued (no other worker)
  EXPECT_EQ("QUEUED", State("long"));
  Join("w1", 4, {"GENERAL"}, {wire::JobRef{.id = "long", .attempt = 1}});
  EXPECT_EQ("RUNNING", State("long"));
  EXPECT_EQ("", Assignments());  // not started a second time
  for (const auto& o : sent_) EXPECT_NE(MsgType::kJobCancel, o.msg.type);
  Done("w1", "long", 0);
  EXPECT_EQ("COMPLETED", State("long"));
}

}  // namespace
}  // namespace titan::broker
