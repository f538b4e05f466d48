// HeldTurns: messages of turns whose commits are in flight leave in turn order, only once their commit
// is confirmed under a valid lease, and never after a failure.
#include "broker/held_turns.h"

#include <gtest/gtest.h>

namespace titan::broker {
namespace {

// `n` events named "<name>.<i>".
std::vector<Outgoing> Msgs(const std::string& name, int n) {
  std::vector<Outgoing> out;
  for (int i = 0; i < n; ++i)
    out.push_back(Outgoing{Outgoing::kEvent, {}, {}, name + "." + std::to_string(i), {}});
  return out;
}

std::string Topics(const std::vector<Outgoing>& out) {
  std::string s;
  for (const Outgoing& o : out) s += (s.empty() ? "" : " ") + o.topic;
  return s;
}

TEST(HeldTurns, ATurnWithNothingInFlightLeavesAtOnce) {
  HeldTurns held;
  held.Hold(std::nullopt, Msgs("a", 2));
  EXPECT_EQ("a.0 a.1", Topics(held.TakeReleasable()));
  EXPECT_TRUE(held.empty());
}

TEST(HeldTurns, MessagesWaitForTheirCommitAndLeaveInTurnOrder) {
  HeldTurns held;
  held.Hold(1, Msgs("a", 1));
  held.Hold(2, Msgs("b", 2));
  held.Hold(std::nullopt, Msgs("c", 1));  // a read's reply: after turn 2, whose state it may show
  held.Hold(3, Msgs("d", 1));
  EXPECT_EQ("1:1 2:2 2:1 3:1", held.Render());
  EXPECT_EQ("", Topics(held.TakeReleasable()));
  ASSERT_TRUE(held.Confirm(1, true, true));
  EXPECT_EQ("a.0", Topics(held.TakeReleasable()));
  ASSERT_TRUE(held.Confirm(2, true, true));
  EXPECT_EQ("b.0 b.1 c.0", Topics(held.TakeReleasable()));
  EXPECT_EQ("3:1", held.Render());
  ASSERT_TRUE(held.Confirm(3, true, true));
  EXPECT_EQ("d.0", Topics(held.TakeReleasable()));
  EXPECT_EQ("", held.Render());
}

TEST(HeldTurns, ATurnWithNothingToSendStillOrdersTheTurnsAfterIt) {
  HeldTurns held;
  held.Hold(1, Msgs("a", 1));
  held.Hold(2, {});                       // wrote, sent nothing
  held.Hold(std::nullopt, Msgs("c", 1));  // may show turn 2's state: waits for it
  ASSERT_TRUE(held.Confirm(1, true, true));
  EXPECT_EQ("a.0", Topics(held.TakeReleasable()));
  EXPECT_EQ("2:1", held.Render());
  ASSERT_TRUE(held.Confirm(2, true, true));
  EXPECT_EQ("c.0", Topics(held.TakeReleasable()));
}

TEST(HeldTurns, OneConfirmationCoversTheTicketsBeforeIt) {  // a group commit confirms them together
  HeldTurns held;
  held.Hold(1, Msgs("a", 1));
  held.Hold(2, Msgs("b", 1));
  ASSERT_TRUE(held.Confirm(2, true, true));
  EXPECT_EQ("a.0 b.0", Topics(held.TakeReleasable()));
}

TEST(HeldTurns, AFailedCommitReleasesNothingHeldNorLater) {
  HeldTurns held;
  held.Hold(1, Msgs("a", 1));
  held.Hold(2, Msgs("b", 1));
  held.Hold(std::nullopt, Msgs("c", 1));
  ASSERT_TRUE(held.Confirm(1, true, true));
  EXPECT_FALSE(held.Confirm(2, false, true));
  EXPECT_EQ("", Topics(held.TakeReleasable()));  // not even turn 1's, confirmed but not yet taken
  EXPECT_EQ("failed", held.Render());
  held.Hold(std::nullopt, Msgs("d", 1));
  EXPECT_FALSE(held.Confirm(3, true, true));
  EXPECT_EQ("", Topics(held.TakeReleasable()));
}

TEST(HeldTurns, ACommitConfirmedAfterTheLeaseMayHaveLapsedReleasesNothing) {
  HeldTurns held;
  held.Hold(1, Msgs("a", 1));
  EXPECT_FALSE(held.Confirm(1, true, /*lease_valid=*/false));
  EXPECT_EQ("", Topics(held.TakeReleasable()));
  EXPECT_TRUE(held.failed());
}

TEST(HeldTurns, IsFullPastItsTurnOrMessageBound) {
  HeldTurns turns({.max_turns = 2, .max_messages = 100});
  turns.Hold(1, Msgs("a", 1));
  EXPECT_FALSE(turns.full());
  turns.Hold(2, Msgs("b", 1));
  EXPECT_TRUE(turns.full());
  ASSERT_TRUE(turns.Confirm(1, true, true));
  (void)turns.TakeReleasable();
  EXPECT_FALSE(turns.full());

  HeldTurns messages({.max_turns = 100, .max_messages = 3});
  messages.Hold(1, Msgs("a", 2));
  EXPECT_FALSE(messages.full());
  messages.Hold(2, Msgs("b", 1));
  EXPECT_TRUE(messages.full());
  EXPECT_EQ(3u, messages.messages());
}

}  // namespace
}  // namespace titan::broker
