// Seed parity in the core: job ids reused once their earlier run has ended (history, restart), the
// original Titan's "DAG-" parents and TASK job type, affinity to the job that spawned a sub-task,
// DAG jobs marked for the shared folder, and files of submissions staged in perm_files.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class JobRunsTest : public BrokerCoreTest {
 protected:
  // A JOB_SUBMIT of one job, `spec` with id `id` running job.sh = `content`.
  Message SubmitSpec(wire::JobSpec spec, const std::string& id = "x", const std::string& content = "exit 0") {
    spec.id = id;
    spec.file = "job.sh";
    return Client(
        wire::JobSubmitMsg{.jobs = {std::move(spec)}, .files = {{.name = "job.sh", .content = content}}}
            .ToMessage());
  }

  Message Get(const std::string& id, std::optional<int64_t> run = std::nullopt) {
    return Client(wire::JobGetMsg{.id = id, .run = run}.ToMessage());
  }

  // The JOB_ASSIGN messages sent so far; clears the record.
  std::vector<Message> Assigns() {
    std::vector<Message> out;
    for (const auto& o : sent_) {
      if (o.kind == Outgoing::kWorker && o.msg.type == MsgType::kJobAssign) out.push_back(o.msg);
    }
    sent_.clear();
    return out;
  }

  static std::string Field(const Message& info, const std::string& name) {
    for (const auto& [k, v] : std::get<wire::Map>(info.Find("job")->v)) {
      if (k != name) continue;
      if (const auto* i = std::get_if<int64_t>(&v.v)) return std::to_string(*i);
      return std::string(v.bytes());
    }
    return "";
  }
};

TEST_F(JobRunsTest, AnIdIsUsedAgainOnceItsJobEndedAndTheEarlierRunStaysAsHistory) {
  Join("w1", 4);
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{"extract"}}, "nightly").type);
  Done("w1", "extract", 0);
  ASSERT_EQ("COMPLETED", State("extract"));
  const Message again = Submit({{"extract"}}, "nightly");
  ASSERT_EQ(MsgType::kJobAccepted, again.type) << again.Bytes("reason");
  EXPECT_EQ("nightly#2", std::string(again.Bytes("dag")));
  EXPECT_EQ("RUNNING", State("extract"));
  // The new run counts its attempts from 1; its first assignment carries where its attempts start.
  const auto assigns = Assigns();
  ASSERT_FALSE(assigns.empty());
  EXPECT_EQ(2, assigns.back().Int("attempt"));
  EXPECT_EQ(2, assigns.back().Int("first_attempt"));
  const Message latest = Get("extract");
  EXPECT_EQ("2", Field(latest, "run"));
  EXPECT_EQ("1", Field(latest, "attempt"));
  EXPECT_EQ(2, latest.Int("runs"));
  const Message first = Get("extract", 1);
  EXPECT_EQ("COMPLETED", Field(first, "state"));
  EXPECT_EQ("1", Field(first, "run"));
  EXPECT_FALSE(Get("extract", 3).Bool("found"));
  // The earlier DAG still reports its own run.
  EXPECT_EQ("COMPLETED", DagState("nightly"));
  EXPECT_EQ("RUNNING", DagState("nightly#2"));
  // A stale result about run 1's attempt does not touch run 2.
  Done("w1", "extract", 1, 1);
  EXPECT_EQ("RUNNING", State("extract"));
  Done("w1", "extract", 0, 2);
  EXPECT_EQ("COMPLETED", State("extract"));
}

TEST_F(JobRunsTest, AnIdWhoseJobIsStillLiveIsRefusedSayingSo) {
  Submit({{"a"}});
  const Message refused = Submit({{"a"}});
  ASSERT_EQ(MsgType::kError, refused.type);
  EXPECT_NE(std::string::npos, std::string(refused.Bytes("reason")).find("run 1 of it is still QUEUED"));
}

TEST_F(JobRunsTest, RunsOfAReusedIdAndTheirDagsSurviveARestart) {
  Join("w1", 4);
  Submit({{"extract"}, {"load", {"extract"}}}, "etl");
  Done("w1", "extract", 0);
  Done("w1", "load", 1);
  ASSERT_EQ("FAILED", DagState("etl"));
  Submit({{"extract"}, {"load", {"extract"}}}, "etl");
  Done("w1", "extract", 0, 2);
  ASSERT_EQ("RUNNING", State("load"));
  core_.reset();
  journal_.reset();
  Open();
  EXPECT_EQ("FAILED", DagState("etl"));
  EXPECT_EQ("RUNNING", DagState("etl#2"));
  EXPECT_EQ("2", Field(Get("load"), "run"));
  EXPECT_EQ("FAILED", Field(Get("load", 1), "state"));
  EXPECT_EQ("COMPLETED", Field(Get("extract", 2), "state"));
  // A third run links to the parent's latest run, not the first.
  Join("w1", 4, {"GENERAL"}, {wire::JobRef{.id = "load", .attempt = 2}});
  Done("w1", "load", 0, 2);
  ASSERT_EQ("COMPLETED", DagState("etl#2"));
  Submit({{"extract"}, {"load", {"extract"}}}, "etl");
  EXPECT_EQ("BLOCKED", State("load"));
}

TEST_F(JobRunsTest, ParentsMayUseTheOriginalDagPrefix) {
  Join("w1", 4);
  const Message accepted = Submit({{"extract"}, {"train", {"DAG-extract"}}});
  ASSERT_EQ(MsgType::kJobAccepted, accepted.type) << accepted.Bytes("reason");
  EXPECT_EQ(std::vector<std::string>{"extract"}, core_->FindJob("train")->parents);
  Done("w1", "extract", 0);
  EXPECT_EQ("RUNNING", State("train"));
}

TEST_F(JobRunsTest, TaskAndRunPayloadRunOnceAndUnknownTypesAreRefused) {
  Join("w1", 4);
  ASSERT_EQ(MsgType::kJobAccepted, SubmitSpec({.job_type = "TASK"}, "t1").type);
  ASSERT_EQ(MsgType::kJobAccepted, SubmitSpec({.job_type = "run_payload"}, "t2").type);
  EXPECT_FALSE(core_->FindJob("t1")->service);
  const Message refused = SubmitSpec({.job_type = "BATCH"}, "t3");
  ASSERT_EQ(MsgType::kError, refused.type);
  EXPECT_NE(std::string::npos, std::string(refused.Bytes("reason")).find("job_type 'BATCH' is unknown"));
}

TEST_F(JobRunsTest, ASubTaskWithAffinityGoesToTheWorkerOfTheJobThatSpawnedIt) {
  Join("w1", 4);
  Submit({{"parent"}, {"filler"}});
  ASSERT_EQ("parent@w1 filler@w1", Assignments());
  Join("w2", 4);  // idle: least load alone would pick it
  ASSERT_EQ(MsgType::kJobAccepted, SubmitSpec({.affinity = true, .spawned_by = "parent"}, "child").type);
  EXPECT_EQ("child@w1", Assignments());
  ASSERT_EQ(MsgType::kJobAccepted, SubmitSpec({.spawned_by = "parent"}, "no-affinity").type);
  EXPECT_EQ("no-affinity@w2", Assignments());
}

TEST_F(JobRunsTest, OnlyJobsOfADagRunInTheSharedFolder) {
  Join("w1", 8);
  Submit({{"alone"}});
  Submit({{"a"}, {"b", {"a"}}}, "pair");
  std::map<std::string, bool> shared;
  for (const Message& m : Assigns()) {
    const Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(m);
    ASSERT_TRUE(assign.ok()) << assign.message();
    shared[assign->job.id] = assign->shared_workdir.value_or(false);
  }
  EXPECT_FALSE(shared.at("alone"));
  EXPECT_TRUE(shared.at("a"));
}

TEST_F(JobRunsTest, FilesSentWithJobsAreStagedInPermFiles) {
  SubmitSpec({}, "s1", "echo one");
  auto staged = artifacts_->Deployed("job.sh");
  ASSERT_TRUE(staged.ok()) << staged.message();
  // The same name with new content replaces it; a job naming it alone then runs the new content.
  SubmitSpec({}, "s2", "echo two");
  staged = artifacts_->Deployed("job.sh");
  ASSERT_TRUE(staged.ok());
  EXPECT_EQ(core_->FindJob("s2")->file_hash, staged->sha256);
  ASSERT_EQ(MsgType::kJobAccepted,
            Client(wire::JobSubmitMsg{.jobs = {{.id = "s3", .file = "job.sh"}}}.ToMessage()).type);
  EXPECT_EQ(core_->FindJob("s2")->file_hash, core_->FindJob("s3")->file_hash);
}

TEST_F(JobRunsTest, AGateOfAnEarlierRunDoesNotStandForTheLatestRun) {
  Join("w1", 4);
  Submit({{"t", {}, 1, "GENERAL", 0, 0, false, "Ship?"}});
  Done("w1", "t", 0);
  ASSERT_EQ(MsgType::kJobInfo,
            Client(wire::GateDecideMsg{.id = "hitl-gate-t", .approve = true}.ToMessage()).type);
  ASSERT_EQ("COMPLETED", State("hitl-gate-t"));
  Submit({{"t"}});  // run 2, without a gate
  Submit({{"later", {"t"}}});
  EXPECT_EQ(std::vector<std::string>{"t"}, core_->FindJob("later")->parents);
  EXPECT_EQ("BLOCKED", State("later"));  // waits for run 2, not for run 1's approved gate
  Done("w1", "t", 0, 2);
  EXPECT_EQ("RUNNING", State("later"));
}

}  // namespace
}  // namespace titan::broker
