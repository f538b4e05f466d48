// BrokerCore DAGs, gates and schedules: graph shapes, cascades, approvals, expiry, cron ticks and
// restarts, all on a fake clock.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class DagCoreTest : public BrokerCoreTest {
 protected:
  // Completes every job currently assigned (in order), repeatedly, until nothing more is assigned.
  int RunAll(const std::string& worker) {
    int ran = 0;
    for (;;) {
      std::vector<std::string> ids;
      for (const auto& o : sent_) {
        if (o.kind == Outgoing::kWorker && o.msg.type == MsgType::kJobAssign) {
          ids.push_back(wire::JobAssignMsg::From(o.msg)->job.id);
        }
      }
      sent_.clear();
      if (ids.empty()) return ran;
      for (const auto& id : ids) {
        Done(worker, id, 0, core_->FindJob(id)->attempt);
        ++ran;
      }
    }
  }

  Message Decide(const std::string& gate, bool approve, const std::string& reason = "") {
    Message m = wire::GateDecideMsg{.id = gate, .approve = approve}.ToMessage();
    m.Set("by", S("alice"));
    if (!reason.empty()) m.Set("reason", S(reason));
    return Client(std::move(m));
  }
};

TEST_F(DagCoreTest, DiamondRunsInDependencyOrder) {
  Join("w1", 4);
  Submit({{"a"}, {"b", {"a"}}, {"c", {"a"}}, {"d", {"b", "c"}}}, "diamond");
  EXPECT_EQ("a@w1", Assignments());
  Done("w1", "a", 0);
  EXPECT_EQ("b@w1 c@w1", Assignments());
  Done("w1", "b", 0);
  EXPECT_EQ("", Assignments());  // d still waits for c
  Done("w1", "c", 0);
  EXPECT_EQ("d@w1", Assignments());
  EXPECT_EQ("RUNNING", DagState("diamond"));
  Done("w1", "d", 0);
  EXPECT_EQ("COMPLETED", DagState("diamond"));
}

TEST_F(DagCoreTest, ChainOfOneHundred) {
  Join("w1", 4);
  std::vector<JobArgs> chain = {{"c0"}};
  for (int i = 1; i < 100; ++i) chain.push_back({"c" + std::to_string(i), {"c" + std::to_string(i - 1)}});
  Submit(chain, "chain");
  EXPECT_EQ(100, RunAll("w1"));
  EXPECT_EQ("COMPLETED", State("c99"));
  EXPECT_EQ("COMPLETED", DagState("chain"));
}

TEST_F(DagCoreTest, FanOutTwoHundredAndIn) {
  Join("w1", 8);
  std::vector<JobArgs> jobs = {{"src"}};
  std::vector<std::string> mids;
  for (int i = 0; i < 200; ++i) {
    mids.push_back("m" + std::to_string(i));
    jobs.push_back({mids.back(), {"src"}});
  }
  jobs.push_back({"sink", mids});
  Submit(jobs, "fan");
  EXPECT_EQ(202, RunAll("w1"));
  EXPECT_EQ("COMPLETED", State("sink"));
  EXPECT_GE(core_->FindJob("sink")->started_ms, core_->FindJob("m199")->finished_ms);
}

TEST_F(DagCoreTest, RepeatedNamesGetNumberedDagIds) {
  const Message first = Submit({{"x1"}}, "PLAN", "run-1");
  const Message second = Submit({{"x2"}}, "PLAN", "run-1");
  EXPECT_EQ("PLAN", first.Bytes("dag"));
  EXPECT_EQ("PLAN#2", second.Bytes("dag"));
  const Message runs = Client(wire::RunListMsg{.limit = 10}.ToMessage());
  const auto& list = std::get<wire::List>(runs.Find("runs")->v);
  ASSERT_EQ(1u, list.size());
  EXPECT_EQ(  // the DagInfo fields in schema order
      "{id: \"run-1\", name: \"run-1\", state: \"RUNNING\", agent_run_id: \"run-1\", jobs: 2, done: 0, "
      "failed: 0, submitted_ms: 1000000}",
      wire::Render(list[0]));
}

TEST_F(DagCoreTest, CancelStopsEveryUnfinishedJob) {
  Join("w1", 1);
  Submit({{"r"}, {"q"}, {"child", {"r"}}}, "big");
  EXPECT_EQ("r@w1", Assignments());
  Client(wire::DagCancelMsg{.id = "big"}.ToMessage());
  EXPECT_EQ("CANCELLED", State("q"));
  EXPECT_EQ("RUNNING", State("r"));  // until its worker confirms
  Done("w1", "r", -1, 1, true);
  EXPECT_EQ("CANCELLED", State("r"));
  EXPECT_EQ("CANCELLED", State("child"));  // the whole DAG was cancelled, blocked jobs included
  EXPECT_EQ("CANCELLED", DagState("big"));
}

TEST_F(DagCoreTest, GateApprovedLetsChildrenRun) {
  Join("w1", 4);
  const Message accepted =
      Submit({{"train", {}, 1, "GENERAL", 0, 0, false, "Deploy the model?"}, {"deploy", {"train"}}});
  EXPECT_EQ("[\"train\", \"deploy\", \"hitl-gate-train\"]", wire::Render(*accepted.Find("ids")));
  EXPECT_EQ(std::vector<std::string>{"hitl-gate-train"}, core_->FindJob("deploy")->parents);
  EXPECT_EQ("train@w1", Assignments());
  EXPECT_EQ("ERROR", std::string(wire::NameOf(Decide("hitl-gate-train", true).type)));  // not open yet
  Done("w1", "train", 0);
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-train"));
  EXPECT_EQ("", Assignments());  // a gate never goes to a worker
  Decide("hitl-gate-train", true);
  EXPECT_EQ("COMPLETED", State("hitl-gate-train"));
  EXPECT_EQ("alice", core_->FindJob("hitl-gate-train")->decided_by);
  EXPECT_EQ("deploy@w1", Assignments());
}

TEST_F(DagCoreTest, AGateDecisionIsRecordedAsTheAuthenticatedPrincipal) {
  Join("w1", 4);
  Submit({{"a", {}, 1, "GENERAL", 0, 0, false, "A?"}, {"b", {}, 1, "GENERAL", 0, 0, false, "B?"}});
  Done("w1", "a", 0);
  Done("w1", "b", 0);
  auto decide = [&](const std::string& gate, std::optional<std::string> by) {
    Message m = wire::GateDecideMsg{.id = gate, .approve = true}.ToMessage();
    if (by) m.Set("by", S(*by));
    core_->OnClient({"client"}, 1, m, now_, "olivia");  // the key the request came with (CURVE)
    Turn();
    return core_->FindJob(gate)->decided_by;
  };
  EXPECT_EQ("olivia (as the-ceo)",
            decide("hitl-gate-a", "the-ceo"));  // a claimed name never hides who sent it
  EXPECT_EQ("approved by olivia (as the-ceo)", core_->FindJob("hitl-gate-a")->reason);
  EXPECT_EQ("olivia", decide("hitl-gate-b", std::nullopt));
}

TEST_F(DagCoreTest, GateRejectedSkipsDescendantsWithTheCause) {
  Join("w1", 4);
  Submit(
      {{"train", {}, 1, "GENERAL", 0, 0, false, "Ship it?"}, {"deploy", {"train"}}, {"notify", {"deploy"}}},
      "ship");
  Done("w1", "train", 0);
  Decide("hitl-gate-train", false, "accuracy too low");
  EXPECT_EQ("FAILED", State("hitl-gate-train"));
  EXPECT_EQ("rejected by alice: accuracy too low", core_->FindJob("hitl-gate-train")->reason);
  EXPECT_EQ("SKIPPED", State("deploy"));
  EXPECT_EQ("parent hitl-gate-train ended FAILED", core_->FindJob("deploy")->reason);
  EXPECT_EQ("SKIPPED", State("notify"));
  EXPECT_EQ("FAILED", DagState("ship"));
  EXPECT_EQ("ERROR", std::string(wire::NameOf(Decide("hitl-gate-train", true).type)));  // decided once
}

TEST_F(DagCoreTest, GateExpiresOnceAndSurvivesRestart) {
  Join("w1", 4);
  Submit({{"t", {}, 1, "GENERAL", 0, 0, false, "Continue?", 60}, {"after", {"t"}}});
  Done("w1", "t", 0);
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-t"));
  // The broker restarts while the gate waits; the gate and its deadline come back.
  core_.reset();
  journal_.reset();
  Open();
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-t"));
  EXPECT_EQ("Continue?", core_->FindJob("hitl-gate-t")->message);
  Advance(59'500, {});
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-t"));
  Advance(500, {});
  EXPECT_EQ("FAILED", State("hitl-gate-t"));
  EXPECT_EQ("no decision within 60 s (max_wait_seconds)", core_->FindJob("hitl-gate-t")->reason);
  EXPECT_EQ("SKIPPED", State("after"));
  const int64_t finished = core_->FindJob("hitl-gate-t")->finished_ms;
  Advance(120'000, {});
  EXPECT_EQ(finished, core_->FindJob("hitl-gate-t")->finished_ms);  // not re-armed
}

TEST_F(DagCoreTest, LaterSubmissionWaitsOnAnExistingGate) {
  Join("w1", 4);
  Submit({{"t", {}, 1, "GENERAL", 0, 0, false, "ok?"}});
  Submit({{"later", {"t"}}});
  EXPECT_EQ(std::vector<std::string>{"hitl-gate-t"}, core_->FindJob("later")->parents);
}

TEST_F(DagCoreTest, CronFiresOnTheInjectedClockAndMissedTicksRunOnce) {
  Join("w1", 4);
  // now_ is 1,000,000 ms after the epoch (00:16:40); "*/5" next fires at 00:20.
  ASSERT_EQ("OK", std::string(wire::NameOf(
                      AddSchedule("nightly", "*/5 * * * *", {{"extract"}, {"load", {"extract"}}}).type)));
  EXPECT_LE(core_->NextDeadline(), now_.mono_ms + (1'200'000 - now_.wall_ms));  // armed for the tick
  Advance(199'000, {"w1"});
  EXPECT_EQ("", Assignments());
  Advance(1'000, {"w1"});  // 00:20:00
  EXPECT_EQ("extract@19700101T0020Z@w1", Assignments());
  EXPECT_EQ("BLOCKED", State("load@19700101T0020Z"));
  // The broker is down from 00:21 to 00:47: five ticks missed, one run when it returns.
  Advance(60'000, {"w1"});
  core_.reset();
  journal_.reset();
  now_.wall_ms = 47 * 60'000 + 30'000;
  Open();
  Join("w1", 4);
  std::vector<std::string> fired;
  for (const auto& id : {"20", "25", "30", "35", "40", "45", "47"}) {
    if (State(std::string("extract@19700101T00") + id + "Z") != "UNKNOWN") fired.push_back(id);
  }
  EXPECT_EQ((std::vector<std::string>{"20", "47"}), fired);
  const Message list = Client(wire::ScheduleListMsg{}.ToMessage());
  EXPECT_NE(std::string::npos, wire::Render(*list.Find("schedules")).find("next_ms: 3000000"));  // 00:50
  Client(wire::ScheduleRemoveMsg{.name = "nightly"}.ToMessage());
  Advance(300'000, {"w1"});
  EXPECT_EQ("UNKNOWN", State("extract@19700101T0050Z"));
}

TEST_F(DagCoreTest, ScheduledDagRunsAreNamedAfterThePipelineAndSurviveARestart) {
  Join("w1", 4);
  ASSERT_EQ(MsgType::kOk, AddSchedule("every-5", "*/5 * * * *", {{"extract"}}, "Nightly-Data-Pipeline").type);
  Advance(200'000, {"w1"});  // 00:20:00
  EXPECT_EQ("extract@19700101T0020Z@w1", Assignments());
  auto dag_found = [&](const std::string& id) {
    return Client(wire::DagGetMsg{.id = id}.ToMessage()).Bool("found");
  };
  EXPECT_TRUE(dag_found("Nightly-Data-Pipeline@19700101T0020Z"));
  EXPECT_FALSE(dag_found("every-5@19700101T0020Z"));
  core_.reset();
  journal_.reset();
  Open();
  Join("w1", 4);
  Advance(300'000, {"w1"});  // 00:25:00, after a restart: the name came back with the schedule
  EXPECT_TRUE(dag_found("Nightly-Data-Pipeline@19700101T0025Z"));
}

TEST_F(DagCoreTest, BadSchedulesAreRefused) {
  EXPECT_EQ("cron field 1 '61' is not a valid minute (0-59)",
            AddSchedule("s", "61 * * * *", {{"a"}}).Bytes("reason"));
  EXPECT_EQ("schedule 's': parent 'zz' is not one of its jobs",
            AddSchedule("s", "* * * * *", {{"a", {"zz"}}}).Bytes("reason"));
}

}  // namespace
}  // namespace titan::broker

namespace titan::broker {
namespace {

TEST_F(DagCoreTest, ClientCannotPlantGateKeysThatSurviveARestart) {
  // Built by name: the spec carries keys JobSpec does not have, as a peer's message might.
  Message req = wire::MakeMessage(MsgType::kJobSubmit);
  req.Set(
      "jobs",
      Datum(wire::List{Datum(wire::Map{
          {"id", S("sneaky")}, {"file", S("job.sh")}, {"kind", S("GATE")}, {"message", S("approve me")}})}));
  req.Set("files",
          Datum(wire::List{Datum(wire::Map{{"name", S("job.sh")}, {"content", Datum(wire::Bytes{"x"})}})}));
  Client(std::move(req));
  core_.reset();
  journal_.reset();
  Open();
  EXPECT_FALSE(core_->FindJob("sneaky")->gate);
  EXPECT_EQ("QUEUED", State("sneaky"));
}

TEST_F(DagCoreTest, NewScheduleHasNotFiredYet) {
  AddSchedule("s", "* * * * *", {{"a"}});
  EXPECT_EQ(std::string::npos,
            wire::Render(*Client(wire::ScheduleListMsg{}.ToMessage()).Find("schedules")).find("last_ms"));
  Advance(60'000, {});
  EXPECT_NE(std::string::npos,
            wire::Render(*Client(wire::ScheduleListMsg{}.ToMessage()).Find("schedules")).find("last_ms"));
}

TEST_F(DagCoreTest, DagStateIsIntactAfterARestart) {
  Join("w1", 4);
  Submit({{"a"}, {"b", {"a"}}, {"g", {}, 1, "GENERAL", 0, 0, false, "go?"}}, "pipeline", "run-7");
  Done("w1", "a", 0);
  core_.reset();  // as after kill -9: only what was committed survives
  journal_.reset();
  Open();
  Join("w1", 4, {"GENERAL"}, {wire::JobRef{.id = "b", .attempt = 1}, wire::JobRef{.id = "g", .attempt = 1}});
  const Message dag = Client(wire::DagGetMsg{.id = "pipeline"}.ToMessage());
  ASSERT_TRUE(dag.Bool("found"));
  EXPECT_EQ(4u, std::get<wire::List>(dag.Find("jobs")->v).size());  // a, b, g and hitl-gate-g
  EXPECT_EQ("RUNNING", DagState("pipeline"));
  EXPECT_EQ("COMPLETED", State("a"));
  EXPECT_EQ("RUNNING", State("b"));
  Done("w1", "b", 0);
  Done("w1", "g", 0);
  Decide("hitl-gate-g", true);
  EXPECT_EQ("COMPLETED", DagState("pipeline"));
  const Message runs = Client(wire::RunListMsg{.limit = 5}.ToMessage());
  EXPECT_NE(std::string::npos, wire::Render(*runs.Find("runs")).find("\"run-7\""));
}

}  // namespace
}  // namespace titan::broker
