// The operator's actions on DAGs and schedules: re-running a finished DAG, disabling and enabling a
// schedule (also across a restart), and a waiting gate's expiry time in its JobInfo.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class DagActionsTest : public BrokerCoreTest {
 protected:
  // Completes what was assigned, again and again, until nothing more is.
  void RunAll(const std::string& worker) {
    for (bool more = true; more;) {
      more = false;
      std::vector<std::string> ids;
      for (const auto& o : sent_) {
        if (o.kind == Outgoing::kWorker && o.msg.type == MsgType::kJobAssign)
          ids.push_back(wire::JobAssignMsg::From(o.msg)->job.id);
      }
      sent_.clear();
      for (const auto& id : ids) {
        Done(worker, id, 0, core_->FindJob(id)->attempt);
        more = true;
      }
    }
  }
  Message Rerun(const std::string& dag) { return Client(wire::DagRerunMsg{.id = dag}.ToMessage()); }
  Message Enable(const std::string& name, bool enabled) {
    return Client(wire::ScheduleEnableMsg{.name = name, .enabled = enabled}.ToMessage());
  }
  // The state of the job the schedule's tick at 00:<stamp> submitted; UNKNOWN when it did not fire.
  std::string Fired(const std::string& stamp) { return State("extract@19700101T00" + stamp + "Z"); }
};

TEST_F(DagActionsTest, AFinishedDagRunsAgainAsANewDagOfTheSameNameWithTheNextRunOfEachJob) {
  Join("w1", 4);
  Submit({{.id = "extract"}, {.id = "load", .parents = {"extract"}}}, "etl");
  const Message early = Rerun("etl");
  ASSERT_EQ(MsgType::kError, early.type);
  EXPECT_NE(std::string::npos, wire::StatusOf(early).message().find("has not finished"));
  RunAll("w1");
  ASSERT_EQ("COMPLETED", DagState("etl"));
  const Result<wire::JobAcceptedMsg> again = wire::JobAcceptedMsg::From(Rerun("etl"));
  ASSERT_TRUE(again.ok()) << again.message();
  EXPECT_EQ("etl#2", again->dag);
  EXPECT_EQ((std::vector<std::string>{"extract", "load"}), again->ids);
  EXPECT_EQ(2, core_->FindJob("load")->run);
  EXPECT_EQ("BLOCKED", State("load"));  // linked to the new run of its parent
  RunAll("w1");
  EXPECT_EQ("COMPLETED", DagState("etl#2"));
  EXPECT_EQ("no DAG 'nope'; see `titan dags`", wire::StatusOf(Rerun("nope")).message());
}

TEST_F(DagActionsTest, AGatedDagRunsAgainWithItsGate) {
  Join("w1", 4);
  Submit({{.id = "train", .hitl = "Ship it?"}, {.id = "ship", .parents = {"train"}}}, "release");
  RunAll("w1");
  ASSERT_EQ("WAITING_APPROVAL", State("hitl-gate-train"));
  EXPECT_TRUE(wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = "hitl-gate-train"}.ToMessage()))
                  ->job->expires_ms.has_value());
  Client(wire::DagCancelMsg{.id = "release"}.ToMessage());
  ASSERT_EQ(MsgType::kJobAccepted, Rerun("release").type);
  RunAll("w1");
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-train"));
  EXPECT_EQ(2, core_->FindJob("hitl-gate-train")->run);
  EXPECT_EQ("BLOCKED", State("ship"));  // behind the new gate, not the cancelled one
  Client(wire::GateDecideMsg{.id = "hitl-gate-train", .approve = true}.ToMessage());
  RunAll("w1");
  EXPECT_EQ("COMPLETED", State("ship"));
  EXPECT_EQ("COMPLETED", DagState("release#2"));
}

TEST_F(DagActionsTest, AWaitingGateSaysWhenItExpiresAndADecidedOneDoesNot) {
  Join("w1", 4);
  Submit({{.id = "a", .hitl = "ok?", .max_wait_s = 60}});
  RunAll("w1");
  auto info = [&] {
    return wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = "hitl-gate-a"}.ToMessage()))->job;
  };
  ASSERT_EQ("WAITING_APPROVAL", info()->state);
  EXPECT_EQ(core_->FindJob("hitl-gate-a")->started_ms + 60'000, info()->expires_ms);
  Client(wire::GateDecideMsg{.id = "hitl-gate-a", .approve = true}.ToMessage());
  EXPECT_FALSE(info()->expires_ms.has_value());
}

TEST_F(DagActionsTest, ADisabledScheduleDoesNotFireAndEnabledAgainOwesNothingItMissedEvenAfterARestart) {
  Join("w1", 4);
  // now_ is 00:16:40; "*/5" ticks at 00:20, 00:25, ...
  ASSERT_EQ(MsgType::kOk, AddSchedule("nightly", "*/5 * * * *", {{"extract"}}).type);
  ASSERT_EQ(MsgType::kOk, Enable("nightly", false).type);
  EXPECT_NE(
      std::string::npos,
      wire::Render(*Client(wire::ScheduleListMsg{}.ToMessage()).Find("schedules")).find("enabled: false"));
  Advance(560'000, {"w1"});  // 00:26:00: the 00:20 and 00:25 ticks pass
  EXPECT_EQ("UNKNOWN", Fired("20"));
  EXPECT_EQ("UNKNOWN", Fired("25"));
  core_.reset();  // disabled survives a restart
  journal_.reset();
  Open();
  Join("w1", 4);
  EXPECT_EQ("UNKNOWN", Fired("25"));
  ASSERT_EQ(MsgType::kOk, Enable("nightly", true).type);
  EXPECT_EQ("UNKNOWN", Fired("26"));  // nothing owed for the ticks it missed
  core_.reset();
  journal_.reset();
  Open();  // nor after a restart
  Join("w1", 4);
  EXPECT_EQ("UNKNOWN", Fired("26"));
  Advance(240'000, {"w1"});           // 00:30
  EXPECT_NE("UNKNOWN", Fired("30"));  // and it fires at its next tick
  EXPECT_EQ("no schedule 'nope'; see `titan schedules`", wire::StatusOf(Enable("nope", true)).message());
}

}  // namespace
}  // namespace titan::broker
