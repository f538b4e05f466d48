// ParseDuration as a table: units, bare seconds, fractions, and the messages for bad values.
#include "cli/duration.h"

#include <gtest/gtest.h>

namespace titan::cli {
namespace {

std::string Parse(std::string_view text) {
  int64_t ms = -1;
  std::string error;
  if (!ParseDuration("--delay", text, &ms, &error)) return error;
  return std::to_string(ms);
}

TEST(ParseDuration, Table) {
  const std::string usage = ": use a number with ms, s, m or h, e.g. 500ms or 2s (a bare number is seconds)";
  const struct {
    const char* text;
    std::string expect;
  } rows[] = {
      {"500ms", "500"},
      {"2s", "2000"},
      {"5m", "300000"},
      {"1h", "3600000"},
      {"3", "3000"},  // a bare number is seconds, as in the SDK and YAML
      {"0", "0"},
      {"1.5", "1500"},
      {"1.5s", "1500"},
      {"0.25m", "15000"},
      {"1.0005s", "1001"},  // rounded to the nearest millisecond
      {".5s", "500"},
      {"0ms", "0"},
      {"5x", "--delay '5x'" + usage},
      {"", "--delay ''" + usage},
      {"ms", "--delay 'ms'" + usage},
      {"2 s", "--delay '2 s'" + usage},
      {"1.2.3s", "--delay '1.2.3s'" + usage},
      {"2S", "--delay '2S'" + usage},
      {"1e3", "--delay '1e3'" + usage},
      {"-1s", "--delay '-1s': a duration cannot be negative; use 0 for none"},
      {"999999999h", "--delay '999999999h': longer than 100 years; give a shorter duration"},
  };
  for (const auto& row : rows) EXPECT_EQ(row.expect, Parse(row.text)) << row.text;
}

TEST(ParseDuration, NamesTheOptionItWasGiven) {
  int64_t ms = 0;
  std::string error;
  EXPECT_FALSE(ParseDuration("--timeout", "soon", &ms, &error));
  EXPECT_EQ(0u, error.rfind("--timeout 'soon': ", 0)) << error;
}

}  // namespace
}  // namespace titan::cli
