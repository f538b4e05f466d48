// Job: the table of legal state transitions, read as a whole, and its agreement with IsFinal.
#include "broker/job.h"

#include <gtest/gtest.h>

namespace titan::broker {
namespace {

TEST(JobStates, TheLegalTransitionsAreOneTable) {
  EXPECT_EQ(
      "PENDING -> BLOCKED SCHEDULED QUEUED WAITING_APPROVAL SKIPPED\n"
      "BLOCKED -> SCHEDULED QUEUED WAITING_APPROVAL CANCELLED SKIPPED\n"
      "SCHEDULED -> QUEUED CANCELLED\n"
      "QUEUED -> RUNNING CANCELLED\n"
      "RUNNING -> SCHEDULED QUEUED COMPLETED FAILED CANCELLED DEAD\n"
      "WAITING_APPROVAL -> COMPLETED FAILED CANCELLED\n",
      RenderTransitions());
}

TEST(JobStates, FinalStatesHaveNoWayOutAndEveryOtherStateHasOne) {
  for (int f = 0; f < kStateCount; ++f) {
    const auto from = static_cast<JobState>(f);
    int ways_out = 0;
    for (int t = 0; t < kStateCount; ++t) ways_out += CanTransition(from, static_cast<JobState>(t));
    EXPECT_EQ(IsFinal(from), ways_out == 0) << StateName(from);
    EXPECT_FALSE(CanTransition(from, from)) << StateName(from) << " to itself";
  }
}

TEST(JobStates, EveryStateButPendingCanBeReached) {
  for (int t = 0; t < kStateCount; ++t) {
    bool reached = false;
    for (int f = 0; f < kStateCount; ++f)
      reached |= CanTransition(static_cast<JobState>(f), static_cast<JobState>(t));
    EXPECT_EQ(static_cast<JobState>(t) != JobState::kPending, reached) << StateName(static_cast<JobState>(t));
  }
}

TEST(JobStates, OutOfRangeValuesAreNeverLegal) {
  EXPECT_FALSE(CanTransition(static_cast<JobState>(42), JobState::kQueued));
  EXPECT_FALSE(CanTransition(JobState::kQueued, static_cast<JobState>(-1)));
}

// A spec is typed when it is decoded (JobSpec::From, at submission and when the journal is read): a
// field of the wrong type is an error naming it, not an exception. Applying a decoded spec cannot fail,
// and clamps what would overflow.
TEST(JobSpec, AFieldOfTheWrongTypeIsAnErrorNotAnException) {
  using wire::Datum;
  using wire::Text;
  const Result<wire::JobSpec> priority = wire::JobSpec::From(Datum(
      wire::Map{{"id", Datum(Text{"a"})}, {"file", Datum(Text{"f"})}, {"priority", Datum(Text{"high"})}}));
  ASSERT_FALSE(priority.ok());
  EXPECT_EQ(Status::Code::kMalformed, priority.status().code());
  EXPECT_EQ("JobSpec.priority must be int", priority.message());
  const Result<wire::JobSpec> parents =
      wire::JobSpec::From(Datum(wire::Map{{"id", Datum(Text{"a"})},
                                          {"file", Datum(Text{"f"})},
                                          {"parents", Datum(wire::List{Datum(int64_t{3})})}}));
  EXPECT_EQ("JobSpec.parents[0] must be str", parents.message());
  Job job;
  job.spec = wire::JobSpec{.id = "a", .file = "f", .requirement = "gpu", .max_wait_s = INT64_MAX};
  ApplySpec(job);
  EXPECT_GT(job.max_wait_ms, 0);  // clamped, not overflowed
  EXPECT_EQ("GPU", job.requirement);
}

}  // namespace
}  // namespace titan::broker
