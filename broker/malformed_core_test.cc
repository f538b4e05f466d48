// Messages that do not decode into their struct (a required field missing, a field of another type):
// a client's is answered ERROR MALFORMED naming the field, a worker's is logged, counted and answered
// the same way; neither changes any state. The node's Decode refuses most such messages first; the core
// decodes again at its entry points and must hold on its own.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class MalformedTest : public BrokerCoreTest {
 protected:
  // What the core sent to anyone but the client since the last call, as "<kind> <type>" lines.
  std::string SentBesidesReplies() {
    std::string out;
    for (const auto& o : sent_) {
      if (o.kind == Outgoing::kClient) continue;
      out += std::string(o.kind == Outgoing::kWorker ? "worker " : "event ") +
             std::string(wire::NameOf(o.msg.type)) + "\n";
    }
    sent_.clear();
    return out;
  }

  // The worker messages of the last turn that went to `identity`.
  std::vector<Message> To(const std::string& identity) {
    std::vector<Message> out;
    for (const auto& o : Turn()) {
      if (o.kind == Outgoing::kWorker && o.identity == identity) out.push_back(o.msg);
    }
    return out;
  }
};

TEST_F(MalformedTest, AClientRequestMissingARequiredFieldIsMalformedNamesItAndChangesNothing) {
  Join("w1", 4);
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"a"}}).type);
  EXPECT_EQ("a@w1", Assignments());
  SentBesidesReplies();

  // A spec without its file: nothing of the submission is taken.
  Message submit = wire::MakeMessage(MsgType::kJobSubmit);
  submit.Set("jobs", Datum(wire::List{Datum(wire::Map{{"id", S("b")}})})).Set("files", Datum(wire::List{}));
  const Message refused = Client(std::move(submit));
  EXPECT_EQ("MALFORMED: JOB_SUBMIT.jobs[0] needs field 'file' (str)", ErrorOf(refused));
  EXPECT_EQ(1, refused.Int("rid"));  // still answers the request it refuses
  EXPECT_EQ("UNKNOWN", State("b"));

  // JOB_STOP without the id: the running job is not cancelled.
  EXPECT_EQ("MALFORMED: JOB_STOP needs field 'id' (str)",
            ErrorOf(Client(wire::MakeMessage(MsgType::kJobStop))));
  // GATE_DECIDE with `approve` of another type.
  EXPECT_EQ(
      "MALFORMED: GATE_DECIDE.approve must be bool",
      ErrorOf(Client(wire::MakeMessage(MsgType::kGateDecide).Set("id", S("g")).Set("approve", S("yes")))));
  // JOB_WAIT (answered later, when it decodes) without its timeout.
  EXPECT_EQ("MALFORMED: JOB_WAIT needs field 'timeout_ms' (int)",
            ErrorOf(Client(wire::MakeMessage(MsgType::kJobWait).Set("id", S("a")))));
  // An ARTIFACT_* request, which the artifact service decodes.
  EXPECT_EQ("MALFORMED: ARTIFACT_STAT needs field 'name' (str)",
            ErrorOf(Client(wire::MakeMessage(MsgType::kArtifactStat).Set("space", S("uploads")))));

  EXPECT_EQ("", SentBesidesReplies());  // no JOB_CANCEL, no event
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("w1:1/4", core_->RenderWorkers());
  Stop();  // and nothing of it was journaled
  Open();
  EXPECT_EQ("UNKNOWN", State("b"));
  EXPECT_EQ("RUNNING", State("a"));
}

TEST_F(MalformedTest, AWorkerMessageThatDoesNotDecodeIsLoggedCountedAnsweredAndChangesNothing) {
  Join("w1", 4);
  Submit({{"a"}});
  EXPECT_EQ("a@w1", Assignments());
  SentBesidesReplies();

  // JOB_DONE whose result lacks its exit code: not acknowledged, the job still runs.
  Message done = wire::MakeMessage(MsgType::kJobDone);
  done.Set("result",
           Datum(wire::Map{
               {"id", S("a")}, {"attempt", Datum(1)}, {"signal", Datum(0)}, {"cancelled", Datum(false)}}));
  core_->OnWorker("id-w1", done, now_, 7);
  std::vector<Message> replies = To("id-w1");
  ASSERT_EQ(1u, replies.size());
  EXPECT_EQ("MALFORMED: JOB_DONE.result needs field 'exit_code' (int)", ErrorOf(replies[0]));
  EXPECT_EQ(7, replies[0].Int("rid"));
  EXPECT_EQ("RUNNING", State("a"));

  // A heartbeat whose `draining` is not a bool: the worker does not start draining.
  core_->OnWorker("id-w1", wire::MakeMessage(MsgType::kHeartbeat).Set("draining", S("yes")), now_);
  EXPECT_EQ("MALFORMED: HEARTBEAT.draining must be bool", ErrorOf(To("id-w1").at(0)));

  // WORKER_READY without its slots: no worker joins.
  Message ready = wire::MakeMessage(MsgType::kWorkerReady);
  ready.Set("name", S("w2"))
      .Set("host", S("h"))
      .Set("pid", Datum(1))
      .Set("capabilities", StrList({"GENERAL"}));
  ready.Set("running", Datum(wire::List{})).Set("finished", Datum(wire::List{}));
  core_->OnWorker("id-w2", ready, now_);
  EXPECT_EQ("MALFORMED: WORKER_READY needs field 'slots' (int)", ErrorOf(To("id-w2").at(0)));

  EXPECT_EQ(3, core_->malformed_from_workers());
  EXPECT_EQ("worker ERROR\nworker ERROR\nworker ERROR\n", SentBesidesReplies());  // no ack, no event
  EXPECT_EQ("w1:1/4", core_->RenderWorkers());
  EXPECT_EQ("RUNNING", State("a"));
}

// A malformed message is not a sign of life: a worker that sends only those is lost like a silent one.
TEST_F(MalformedTest, AWorkerSendingOnlyMalformedMessagesIsStillLost) {
  Join("w1", 4);
  for (int i = 0; i < 8; ++i) {
    now_ += 500;
    core_->OnWorker("id-w1", wire::MakeMessage(MsgType::kHeartbeat).Set("busy", S("one")), now_);
    Turn();
  }
  EXPECT_EQ("", core_->RenderWorkers());
  EXPECT_EQ(8, core_->malformed_from_workers());
}

}  // namespace
}  // namespace titan::broker
