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

TEST(JobSpec, AFieldOfTheWrongTypeIsAnErrorNotAnException) {
  Job job;
  job.spec = {{"id", wire::Datum(wire::Text{"a"})}, {"priority", wire::Datum(wire::Text{"high"})}};
  EXPECT_EQ("spec field 'priority' is not an integer", ApplySpec(job).message());
  job.spec = {{"parents", wire::Datum(wire::List{wire::Datum(int64_t{3})})}};
  EXPECT_EQ("spec field 'parents' is not a list of strings", ApplySpec(job).message());
  job.spec = {{"max_wait_s", wire::Datum(INT64_MAX)}, {"requirement", wire::Datum(wire::Text{"gpu"})}};
  ASSERT_TRUE(ApplySpec(job).ok());
  EXPECT_GT(job.max_wait_ms, 0);  // clamped, not overflowed
  EXPECT_EQ("GPU", job.requirement);
}

}  // namespace
}  // namespace titan::broker
