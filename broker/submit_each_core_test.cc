// JOB_SUBMIT with `each` (core_submit_each.cc): each job is carried out as a JOB_SUBMIT of it alone would be,
// answered with one outcome per job in order; a refusal of one does not stop the others; with a token each
// job is answered again with its own first outcome, and one refused before is considered anew.
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class SubmitEachTest : public BrokerCoreTest {
 protected:
  // A JOB_SUBMIT with `each` of `jobs` (command jobs when `command`, else job.sh with its file).
  Message SubmitEach(const std::vector<JobArgs>& jobs, const std::optional<std::string>& token = std::nullopt,
                     bool command = false) {
    wire::JobSubmitMsg req{.each = true};
    if (!command) req.files = {JobFile()};
    for (const auto& j : jobs) {
      wire::JobSpec spec = Spec(j);
      if (command) {
        spec.file = "";
        spec.command = "true";
      }
      req.jobs.push_back(std::move(spec));
    }
    req.token = token;
    return Client(std::move(req).ToMessage());
  }

  // Each outcome as "ids@dag" or "CODE: reason", joined by " | "; the whole answer's ERROR otherwise.
  static std::string Outcomes(const Message& m) {
    const Result<wire::JobAcceptedMsg> a = wire::JobAcceptedMsg::From(m);
    if (m.type != MsgType::kJobAccepted || !a.ok()) return ErrorOf(m);
    if (!a->each) return "no outcomes";
    std::string out;
    for (const wire::SubmitOutcome& o : *a->each) {
      std::string one;
      if (o.error) {
        one = *o.error + ": " + o.reason.value_or("");
      } else {
        for (const auto& id : o.ids.value_or(std::vector<std::string>{}))
          one += (one.empty() ? "" : ",") + id;
        one += "@" + o.dag.value_or("");
      }
      out += (out.empty() ? "" : " | ") + one;
    }
    return out;
  }

  static std::vector<std::string> AcceptedIds(const Message& m) {
    const Result<wire::JobAcceptedMsg> a = wire::JobAcceptedMsg::From(m);
    return a.ok() ? a->ids : std::vector<std::string>{"not accepted"};
  }

  int64_t Runs(const std::string& id) {
    const Result<wire::JobInfoMsg> info =
        wire::JobInfoMsg::From(Client(wire::JobGetMsg{.id = id}.ToMessage()));
    return info.ok() ? info->runs.value_or(0) : -1;
  }
};

TEST_F(SubmitEachTest, EachJobIsASubmissionOfItsOwnAndTheyAllRun) {
  Join("w1", 4);
  const Message answer = SubmitEach({{"a"}, {"b"}, {.id = "c", .hitl = "ok?"}});
  EXPECT_EQ("a@a | b@b | c,hitl-gate-c@c", Outcomes(answer))
      << "each its own DAG id, as when submitted alone";
  EXPECT_EQ((std::vector<std::string>{"a", "b", "c", "hitl-gate-c"}), AcceptedIds(answer));
  EXPECT_EQ("RUNNING", State("a"));
  EXPECT_EQ("RUNNING", State("b"));
  EXPECT_EQ("RUNNING", State("c")) << "its gate holds back only its children, as when submitted alone";
}

TEST_F(SubmitEachTest, ARefusedJobStopsNoOtherAndSaysWhy) {
  Join("w1", 4);
  SubmitEach({{"busy"}});
  const Message answer = SubmitEach({{"x"}, {"busy"}, {.id = "orphan", .parents = {"nowhere"}}, {"y"}});
  const std::string outcomes = Outcomes(answer);
  EXPECT_NE(std::string::npos, outcomes.find("x@x | INVALID: job id 'busy' is in use")) << outcomes;
  EXPECT_NE(std::string::npos,
            outcomes.find(" | INVALID: unknown parent ids (child -> parent): orphan -> nowhere"))
      << outcomes;
  EXPECT_NE(std::string::npos, outcomes.find(" | y@y")) << outcomes;
  EXPECT_EQ((std::vector<std::string>{"x", "y"}), AcceptedIds(answer));
  EXPECT_EQ("UNKNOWN", State("orphan"));
  EXPECT_EQ(1, Runs("busy")) << "the refused one changed nothing";
}

TEST_F(SubmitEachTest, AJobMayNameAParentSubmittedEarlierInTheSameMessage) {
  Join("w1", 4);
  EXPECT_EQ("p@p | c@c", Outcomes(SubmitEach({{"p"}, {.id = "c", .parents = {"p"}}})));
  EXPECT_EQ("BLOCKED", State("c"));
  Done("w1", "p", 0);
  EXPECT_EQ("RUNNING", State("c"));
}

TEST_F(SubmitEachTest, CommandJobsNeedNoFile) {
  Join("w1", 4);
  EXPECT_EQ("a@a | b@b", Outcomes(SubmitEach({{"a"}, {"b"}}, std::nullopt, /*command=*/true)));
}

// A client that got no answer sends the same message again: each job accepted the first time is answered as
// then and not submitted again; one refused the first time is considered anew.
TEST_F(SubmitEachTest, TheSameTokenAnswersEachAcceptedJobAsTheFirstTime) {
  Join("w1", 4);
  SubmitEach({{"busy"}});
  EXPECT_EQ("a@a | INVALID", Outcomes(SubmitEach({{"a"}, {"busy"}}, "t1")).substr(0, 13));
  Done("w1", "busy", 0);
  Done("w1", "a", 0);
  EXPECT_EQ("a@a | busy@busy#2", Outcomes(SubmitEach({{"a"}, {"busy"}}, "t1")));
  EXPECT_EQ(1, Runs("a")) << "answered again, not run again";
  EXPECT_EQ(2, Runs("busy")) << "refused before (in use), accepted now that it ended";
}

TEST_F(SubmitEachTest, AMessageTheBrokerCannotCarryOutIsRefusedWhole) {
  wire::JobSubmitMsg named{.jobs = {Spec({"a"})}, .files = {JobFile()}, .dag = "d", .each = true};
  EXPECT_EQ("INVALID", ErrorOf(Client(std::move(named).ToMessage())).substr(0, 7));
  EXPECT_NE(std::string::npos,
            ErrorOf(SubmitEach({{"a"}}, std::string(117, 't'))).find("longer than 116 bytes"));
  wire::JobSubmitMsg twice{.jobs = {Spec({"a"})},
                           .files = {JobFile(), wire::FileBlob{.name = "job.sh", .content = "exit 1"}},
                           .each = true};
  EXPECT_NE(std::string::npos, ErrorOf(Client(std::move(twice).ToMessage())).find("'job.sh' appears twice"));
  wire::JobSubmitMsg many{.files = {JobFile()}, .each = true};
  for (int i = 0; i < 1001; ++i) many.jobs.push_back(Spec({"m" + std::to_string(i)}));
  EXPECT_NE(std::string::npos,
            ErrorOf(Client(std::move(many).ToMessage())).find("at most 1000 jobs; it has 1001"));
  EXPECT_EQ("UNKNOWN", State("m0"));
  wire::JobSubmitMsg none{.each = true};
  EXPECT_NE(std::string::npos, ErrorOf(Client(std::move(none).ToMessage())).find("has no jobs"));
  EXPECT_EQ("UNKNOWN", State("a"));
}

}  // namespace
}  // namespace titan::broker
