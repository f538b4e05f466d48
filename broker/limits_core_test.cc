// Limits at the broker's edge: time fields out of their range are INVALID (naming the field, its value
// and the range) instead of overflowing into "at once"; malformed worker messages are counted in STATS.
#include <climits>

#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class LimitsTest : public BrokerCoreTest {
 protected:
  Message SubmitSpec(wire::JobSpec spec) {
    wire::JobSubmitMsg req{.files = {JobFile()}};
    req.jobs.push_back(std::move(spec));
    return Client(std::move(req).ToMessage());
  }
};

TEST_F(LimitsTest, Int64MaxTimeFieldsAreInvalidNotAtOnce) {
  Join("w1", 4);
  wire::JobSpec delayed = Spec({"d"});
  delayed.delay_ms = INT64_MAX;
  EXPECT_EQ("INVALID: job 'd': delay_ms 9223372036854775807 is out of range; use 0..315360000000 (ten years)",
            ErrorOf(SubmitSpec(delayed)));
  wire::JobSpec timed = Spec({"t"});
  timed.timeout_ms = INT64_MAX;
  EXPECT_EQ("INVALID: job 't': timeout_ms 9223372036854775807 is out of range; use 0..31536000000 (one year)",
            ErrorOf(SubmitSpec(timed)));
  wire::JobSpec gated = Spec({.id = "g", .hitl = "ok?"});
  gated.max_wait_s = INT64_MAX;
  EXPECT_EQ("INVALID: job 'g': max_wait_s 9223372036854775807 is out of range; use 1..3153600000 (a century)",
            ErrorOf(SubmitSpec(gated)));
  wire::JobSpec negative = Spec({"n"});
  negative.delay_ms = INT64_MIN;
  EXPECT_EQ(
      "INVALID: job 'n': delay_ms -9223372036854775808 is out of range; use 0..315360000000 (ten years)",
      ErrorOf(SubmitSpec(negative)));
  EXPECT_EQ("UNKNOWN UNKNOWN UNKNOWN UNKNOWN",
            State("d") + " " + State("t") + " " + State("g") + " " + State("n"));
  EXPECT_EQ("", Assignments());
}

TEST_F(LimitsTest, TheLargestTimeFieldsAreTakenAndWaitTheirTime) {
  Join("w1", 4);
  wire::JobSpec delayed = Spec({"d"});
  delayed.delay_ms = kMaxDelayMs;
  delayed.timeout_ms = kMaxTimeoutMs;
  ASSERT_EQ("JOB_ACCEPTED", ErrorOf(SubmitSpec(delayed)));
  ASSERT_EQ(MsgType::kJobAccepted, Submit({{.id = "g", .hitl = "ok?", .max_wait_s = kMaxWaitS}}).type);
  EXPECT_EQ("g@w1", Assignments());
  Done("w1", "g", 0);
  now_ += 86'400'000;  // a day later (w1 is long gone), nothing has run or expired
  Turn();
  EXPECT_EQ("SCHEDULED", State("d"));
  EXPECT_EQ("WAITING_APPROVAL", State("hitl-gate-g"));
}

TEST_F(LimitsTest, MalformedWorkerMessagesAreCountedInStats) {
  Join("w1", 1);
  for (int i = 0; i < 500; ++i) {
    core_->OnWorker("id-w1", wire::MakeMessage(MsgType::kJobDone), now_);
    core_->NoteMalformedFromWorker("id-garbage", "a bad message", now_);
  }
  Turn();
  EXPECT_EQ(1000, core_->malformed_from_workers());
  const Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
  ASSERT_TRUE(stats.ok()) << stats.message();
  EXPECT_EQ(1000, stats->malformed_from_workers.value_or(-1));
}

}  // namespace
}  // namespace titan::broker
