// Cron parsing and next-fire times as tables (UTC).
#include "broker/cron.h"

#include <gtest/gtest.h>

#include <ctime>

namespace titan::broker {
namespace {

int64_t At(const char* iso) {  // "2026-11-23 01:30"
  std::tm tm{};
  strptime(iso, "%Y-%m-%d %H:%M", &tm);
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string Show(int64_t ms) { return ms < 0 ? "never" : FormatUtc(ms, "%Y-%m-%d %H:%M %a"); }

std::string Next(const char* expr, const char* after) {
  std::string error;
  auto spec = ParseCron(expr, &error);
  if (!spec) return "error: " + error;
  return Show(NextCronTime(*spec, At(after)));
}

TEST(Cron, NextTimes) {
  struct {
    const char *expr, *after, *want;
  } rows[] = {
      {"* * * * *", "2026-11-23 01:30", "2026-11-23 01:31 Mon"},
      {"*/15 * * * *", "2026-11-23 01:30", "2026-11-23 01:45 Mon"},
      {"0 * * * *", "2026-11-23 01:30", "2026-11-23 02:00 Mon"},
      {"30 2 * * *", "2026-11-23 01:30", "2026-11-23 02:30 Mon"},
      {"30 2 * * *", "2026-11-23 02:30", "2026-11-24 02:30 Tue"},
      {"0 9 * * 1-5", "2026-11-27 10:00", "2026-11-30 09:00 Mon"},  // Friday after nine -> Monday
      {"0 0 1 * *", "2026-11-23 01:30", "2026-12-01 00:00 Tue"},
      {"0 0 1 1 *", "2026-11-23 01:30", "2027-01-01 00:00 Fri"},
      {"0 0 29 2 *", "2026-03-01 00:00", "2028-02-29 00:00 Tue"},
      {"0 0 31 2 *", "2026-03-01 00:00", "never"},
      {"0 12 1 * 0", "2026-11-23 01:30", "2026-11-29 12:00 Sun"},  // day-of-month OR day-of-week
      {"5,35 */6 * * 7", "2026-11-23 01:30", "2026-11-29 00:05 Sun"},
      {"0-10/5 1 * * *", "2026-11-23 01:04", "2026-11-23 01:05 Mon"},
  };
  for (const auto& r : rows) EXPECT_EQ(r.want, Next(r.expr, r.after)) << r.expr << " after " << r.after;
}

TEST(Cron, BadExpressionsNameTheField) {
  EXPECT_EQ("error: cron field 1 '60' is not a valid minute (0-59)", Next("60 * * * *", "2026-11-23 01:30"));
  EXPECT_EQ("error: cron field 5 'mon' is not a valid day-of-week (0-7)",
            Next("0 0 * * mon", "2026-11-23 01:30"));
  EXPECT_EQ(
      "error: a cron expression has 5 fields (minute hour day-of-month month day-of-week); got 3 in '* * *'",
      Next("* * *", "2026-11-23 01:30"));
  EXPECT_EQ("error: cron field 2 '*/0' is not a valid hour (0-23)", Next("* */0 * * *", "2026-11-23 01:30"));
}

}  // namespace
}  // namespace titan::broker
