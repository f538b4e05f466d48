// Idempotent submissions (core_tokens.cc): a JOB_SUBMIT or DAG_RERUN whose token the broker accepted
// already is answered with that first JOB_ACCEPTED and submits nothing, through a restart and after the
// DAG left memory; a request without a token, or with another one, is a submission as before.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class SubmitTokenTest : public BrokerCoreTest {
 protected:
  Message SubmitWith(const std::string& token, const std::vector<JobArgs>& jobs,
                     const std::string& dag = "") {
    wire::JobSubmitMsg req{.files = {JobFile()}};
    for (const auto& j : jobs) req.jobs.push_back(Spec(j));
    if (!dag.empty()) req.dag = dag;
    req.token = token;
    return Client(std::move(req).ToMessage());
  }

  // "ids@dag" of a JOB_ACCEPTED, else ErrorOf.
  static std::string Accepted(const Message& m) {
    const Result<wire::JobAcceptedMsg> a = wire::JobAcceptedMsg::From(m);
    if (m.type != MsgType::kJobAccepted || !a.ok()) return ErrorOf(m);
    std::string out;
    for (const auto& id : a->ids) out += (out.empty() ? "" : ",") + id;
    return out + "@" + a->dag.value_or("");
  }

  // How many runs job `id` has had (JOB_INFO.runs).
  int64_t Runs(const std::string& id) {
    const Result<wire::JobInfoMsg> info =
        wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = id}.ToMessage()));
    return info.ok() ? info->runs.value_or(0) : -1;
  }

  int64_t Replayed() {
    const Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
    return stats.ok() ? stats->submissions_replayed.value_or(-1) : -1;
  }
};

TEST_F(SubmitTokenTest, TheSameTokenIsAnsweredAsTheFirstTimeAndSubmitsNoSecondJob) {
  Join("w1", 4);
  EXPECT_EQ("a@a", Accepted(SubmitWith("t1", {{"a"}})));
  EXPECT_EQ("RUNNING", State("a"));
  // Without the token this would be refused (the id is in use); with it, the first answer again.
  EXPECT_EQ("a@a", Accepted(SubmitWith("t1", {{"a"}})));
  Done("w1", "a", 0);
  // Once it ended, without the token this would start run 2; with it, still the first answer.
  EXPECT_EQ("a@a", Accepted(SubmitWith("t1", {{"a"}})));
  EXPECT_EQ("COMPLETED", State("a"));
  EXPECT_EQ(1, Runs("a"));
  EXPECT_EQ(2, Replayed());
  EXPECT_EQ("a@w1", Assignments()) << "one assignment: one job";
}

// JOB_ACCEPTED says when the broker accepted the jobs (their JOB_INFO.submitted_ms, the clock of their
// events), also when it answers the same token again later.
TEST_F(SubmitTokenTest, TheAnswerSaysWhenTheJobsWereAcceptedAlsoWhenGivenAgain) {
  const Result<wire::JobAcceptedMsg> first = wire::JobAcceptedMsg::From(SubmitWith("t1", {{"a"}}));
  ASSERT_TRUE(first.ok());
  const Result<wire::JobInfoMsg> info =
      wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = "a"}.ToMessage()));
  ASSERT_TRUE(info.ok() && info->job);
  EXPECT_EQ(std::optional<int64_t>(info->job->submitted_ms), first->submitted_ms);
  Advance(5000, {});
  const Result<wire::JobAcceptedMsg> again = wire::JobAcceptedMsg::From(SubmitWith("t1", {{"a"}}));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(first->submitted_ms, again->submitted_ms);
}

TEST_F(SubmitTokenTest, ADagWithGatesIsAnsweredWithAllItsIds) {
  const std::string first =
      Accepted(SubmitWith("t-dag", {{.id = "x", .hitl = "ok?"}, {.id = "y", .parents = {"x"}}}, "p"));
  ASSERT_EQ("x,y,hitl-gate-x@p", first);
  EXPECT_EQ(first,
            Accepted(SubmitWith("t-dag", {{.id = "x", .hitl = "ok?"}, {.id = "y", .parents = {"x"}}}, "p")));
  EXPECT_EQ("UNKNOWN", DagState("p#2"));
}

TEST_F(SubmitTokenTest, AnotherTokenOrNoneForTheSameIdIsANewSubmissionAsBefore) {
  Join("w1", 4);
  ASSERT_EQ("a@a", Accepted(SubmitWith("t1", {{"a"}})));
  EXPECT_EQ("INVALID", ErrorOf(SubmitWith("t2", {{"a"}})).substr(0, 7))
      << "the id is in use, as without tokens";
  Done("w1", "a", 0);
  EXPECT_EQ("a@a#2", Accepted(SubmitWith("t2", {{"a"}})));
  EXPECT_EQ(2, Runs("a"));
  Done("w1", "a", 0, 2);
  EXPECT_EQ("a@a#3", Accepted(Submit({{"a"}})));
  EXPECT_EQ(3, Runs("a"));
  EXPECT_EQ("a@a#2", Accepted(SubmitWith("t2", {{"a"}}))) << "t2 still names run 2's submission";
  EXPECT_EQ(3, Runs("a"));
}

TEST_F(SubmitTokenTest, ATokenUsedForOtherJobsOrMalformedIsRefused) {
  ASSERT_EQ("a@a", Accepted(SubmitWith("t1", {{"a"}})));
  const std::string other = ErrorOf(SubmitWith("t1", {{"b"}}));
  EXPECT_NE(std::string::npos, other.find("INVALID: the submission's token was used already, by DAG a"))
      << other;
  EXPECT_EQ(nullptr, core_->FindJob("b"));
  EXPECT_EQ("INVALID", ErrorOf(SubmitWith("", {{"c"}})).substr(0, 7));
  EXPECT_EQ("INVALID", ErrorOf(SubmitWith(std::string(129, 'x'), {{"c"}})).substr(0, 7));
  EXPECT_EQ(nullptr, core_->FindJob("c"));
}

TEST_F(SubmitTokenTest, ATokenStillDeduplicatesAfterARestart) {
  ASSERT_EQ("a,b@pipe", Accepted(SubmitWith("t-restart", {{"a"}, {"b", {"a"}}}, "pipe")));
  Stop();  // kill -9: what was committed survives, with the token in the DAG's row
  Open();
  Join("w1", 4);
  EXPECT_EQ("a,b@pipe", Accepted(SubmitWith("t-restart", {{"a"}, {"b", {"a"}}}, "pipe")));
  EXPECT_EQ(1, Runs("a"));
  EXPECT_EQ("UNKNOWN", DagState("pipe#2"));
}

TEST_F(SubmitTokenTest, ATokenIsFoundInTheJournalAfterItsDagLeftMemory) {
  config_.retain_finished_count = 1;
  Stop();
  Open();
  Join("w1", 4);
  ASSERT_EQ("old@old", Accepted(SubmitWith("t-old", {{"old"}})));
  Done("w1", "old", 0);
  for (const char* id : {"n1", "n2", "n3"}) {
    ASSERT_EQ(MsgType::kJobAccepted, Submit({{id}}).type);
    Done("w1", id, 0);
  }
  ASSERT_EQ(nullptr, core_->FindJob("old")) << "retention should have taken it out of memory";
  EXPECT_EQ("old@old", Accepted(SubmitWith("t-old", {{"old"}})));
  EXPECT_EQ(1, Runs("old"));
}

TEST_F(SubmitTokenTest, ADagRerunWithATokenRerunsOnce) {
  Join("w1", 4);
  ASSERT_EQ("a@nightly", Accepted(SubmitWith("t1", {{"a"}}, "nightly")));
  Done("w1", "a", 0);
  wire::DagRerunMsg rerun{.id = "nightly", .token = "r1"};
  EXPECT_EQ("a@nightly#2", Accepted(Client(rerun.ToMessage())));
  // Asked again (its answer lost): the first answer, though nightly's jobs were submitted again since.
  EXPECT_EQ("a@nightly#2", Accepted(Client(rerun.ToMessage())));
  EXPECT_EQ(2, Runs("a"));
}

}  // namespace
}  // namespace titan::broker
