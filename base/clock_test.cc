// Clocks: the offset between them is steady across readings, so wall and monotonic differences agree.
#include "base/clock.h"

#include <gtest/gtest.h>

namespace titan {
namespace {

TEST(SteadyOffset, KeepsTheOffsetThroughReadingJitterAndTakesASetClock) {
  struct Row {
    int64_t previous, measured, want;
  } const rows[] = {
      {1000, 1000, 1000},
      {1000, 1001, 1000},
      {1000, 999, 1000},  // jitter of reading two clocks
      {1000, 1002, 1002},
      {1000, 998, 998},  // the wall clock was set
      {1000, 1000 + 3'600'000, 1000 + 3'600'000},
      {1000, -3'599'000, -3'599'000},  // an hour either way
  };
  for (const Row& r : rows) EXPECT_EQ(r.want, SteadyOffset(r.previous, r.measured)) << r.measured;
}

TEST(Now, WallAndMonotonicReadingsDifferByOneOffset) {
  const Instant first = Now();
  for (int i = 0; i < 20000; ++i) {
    const Instant now = Now();
    ASSERT_EQ(first.wall_ms - first.mono_ms, now.wall_ms - now.mono_ms) << "reading " << i;
  }
  EXPECT_LE(std::abs(Now().wall_ms - WallMs()), 2);
}

TEST(MonoAt, ConvertsAWallDeadlineOnce) {
  const Instant now{100, 5'000};
  EXPECT_EQ(700, MonoAt(now, 5'600));
  EXPECT_EQ(100, MonoAt(now, 4'000));                    // already past: now
  EXPECT_EQ(INT64_MAX - 4'900, MonoAt(now, INT64_MAX));  // no overflow on the way
  EXPECT_EQ(INT64_MAX, AddMs(INT64_MAX - 3, 10));
  EXPECT_EQ(INT64_MIN, AddMs(INT64_MIN + 3, -10));
}

}  // namespace
}  // namespace titan
