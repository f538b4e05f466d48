// ParseDuration: number, then unit.
#include "cli/duration.h"

#include <charconv>
#include <cmath>

namespace titan::cli {
namespace {

constexpr double kMaxMs = 100.0 * 365 * 24 * 3600 * 1000;

// Milliseconds per `unit`; 0 for an unknown unit. No unit: seconds.
double UnitMs(std::string_view unit) {
  if (unit.empty() || unit == "s") return 1000;
  if (unit == "ms") return 1;
  if (unit == "m") return 60 * 1000;
  if (unit == "h") return 3600 * 1000;
  return 0;
}

}  // namespace

bool ParseDuration(std::string_view option, std::string_view text, int64_t* ms, std::string* error) {
  const std::string quoted = std::string(option) + " '" + std::string(text) + "'";
  const size_t unit_at = text.find_first_not_of("0123456789.");
  const std::string_view number = text.substr(0, unit_at);
  const std::string_view unit = unit_at == std::string_view::npos ? "" : text.substr(unit_at);
  double value = 0;
  const auto [end, ec] =
      std::from_chars(number.data(), number.data() + number.size(), value, std::chars_format::fixed);
  if (text.starts_with('-')) {
    *error = quoted + ": a duration cannot be negative; use 0 for none";
    return false;
  }
  if (number.empty() || ec != std::errc() || end != number.data() + number.size() || UnitMs(unit) == 0) {
    *error = quoted + ": use a number with ms, s, m or h, e.g. 500ms or 2s (a bare number is seconds)";
    return false;
  }
  const double total = value * UnitMs(unit);
  if (!std::isfinite(total) || total > kMaxMs) {
    *error = quoted + ": longer than 100 years; give a shorter duration";
    return false;
  }
  *ms = std::llround(total);
  return true;
}

}  // namespace titan::cli
