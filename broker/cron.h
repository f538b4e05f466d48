// Cron expressions: five fields "minute hour day-of-month month day-of-week", evaluated in UTC.
// Each field takes *, N, N-M, lists (a,b) and steps (*/S, N-M/S); day-of-week 0 or 7 is Sunday.
// When both day fields are restricted a day matches either (as in Vixie cron). Pure functions.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

namespace titan::broker {

struct CronSpec {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;     // 1..31
  std::bitset<13> months;   // 1..12
  std::bitset<7> weekdays;  // 0..6, Sunday = 0
  bool days_any = true, weekdays_any = true;
};

// nullopt with `error` naming the bad field when `expr` is not a valid expression.
std::optional<CronSpec> ParseCron(const std::string& expr, std::string* error);

// The first matching minute strictly after `after_ms` (Unix epoch milliseconds), in epoch ms; -1 if
// none within 5 years (e.g. "0 0 31 2 *").
int64_t NextCronTime(const CronSpec& spec, int64_t after_ms);

// `ms` (Unix epoch milliseconds) in UTC, as strftime's `format` writes it (at most 63 characters).
std::string FormatUtc(int64_t ms, const char* format);

}  // namespace titan::broker
