// LogLimiter: a burst per peer per window, one summary of what was withheld, a bounded peer table.
#include "base/log_limiter.h"

#include <gtest/gtest.h>

namespace titan {
namespace {

// "L" for a logged line, "." for a withheld one, "S<n>" before a line that reports n withheld.
std::string Feed(LogLimiter& limiter, const std::string& peer, int n, int64_t now_ms) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const LogLimiter::Verdict v = limiter.Admit(peer, now_ms);
    if (v.suppressed) out += "S" + std::to_string(v.suppressed);
    out += v.log ? "L" : ".";
  }
  return out;
}

TEST(LogLimiterTest, LogsABurstPerWindowThenSummarizesWhatWasWithheld) {
  LogLimiter limiter({.window_ms = 1000, .burst = 3, .max_peers = 8});
  EXPECT_EQ("LLL..", Feed(limiter, "a", 5, 0));
  EXPECT_EQ("...", Feed(limiter, "a", 3, 999));
  EXPECT_EQ("S5LLL.", Feed(limiter, "a", 4, 1000));
  EXPECT_EQ("S1L", Feed(limiter, "a", 1, 5000));
  EXPECT_EQ("L", Feed(limiter, "a", 1, 9000));  // nothing withheld in the last window: no summary
}

TEST(LogLimiterTest, PeersHaveTheirOwnBudget) {
  LogLimiter limiter({.window_ms = 1000, .burst = 2, .max_peers = 8});
  EXPECT_EQ("LL..", Feed(limiter, "a", 4, 0));
  EXPECT_EQ("LL.", Feed(limiter, "b", 3, 0));
}

TEST(LogLimiterTest, ThePeerTableIsBoundedAndEvictsTheOldest) {
  LogLimiter limiter({.window_ms = 1000, .burst = 1, .max_peers = 100});
  EXPECT_EQ("L..", Feed(limiter, "first", 3, 0));
  for (int i = 0; i < 20000; ++i) limiter.Admit("peer" + std::to_string(i), 0);
  EXPECT_EQ(100u, limiter.tracked());
  EXPECT_EQ("L", Feed(limiter, "first", 1, 0));  // evicted long ago: tracked afresh
}

TEST(LogLimiterTest, PrintablePeer) {
  EXPECT_EQ("w1", PrintablePeer("w1"));
  EXPECT_EQ("0x00a1ff", PrintablePeer(std::string("\x00\xa1\xff", 3)));
  EXPECT_EQ("0x", PrintablePeer(""));
}

}  // namespace
}  // namespace titan
