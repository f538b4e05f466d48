// ParseCpuList: the cpu_cores syntax, and the errors a user sees for a wrong one.
#include "base/cpu_list.h"

#include <gtest/gtest.h>

namespace titan {
namespace {

std::string Render(const std::string& text) {
  Result<std::vector<int>> cpus = ParseCpuList(text);
  if (!cpus.ok()) return cpus.message();
  std::string out;
  for (int c : *cpus) out += (out.empty() ? "" : " ") + std::to_string(c);
  return out;
}

TEST(ParseCpuList, ReadsNumbersAndRanges) {
  EXPECT_EQ("0", Render("0"));
  EXPECT_EQ("0 1", Render("0-1"));
  EXPECT_EQ("2 4", Render("2,4"));
  EXPECT_EQ("0 1 2 3 8", Render("8,0-3,2"));
}

TEST(ParseCpuList, RefusesWhatIsNotACpuList) {
  EXPECT_EQ(
      "cpu_cores '' is empty; write CPU numbers and ranges separated by commas, e.g. \"0-1\" or \"2,4\"",
      Render(""));
  EXPECT_NE(std::string::npos, Render("a").find("has 'a', not a CPU number"));
  EXPECT_NE(std::string::npos, Render("1,").find("has '', not a CPU number"));
  EXPECT_NE(std::string::npos, Render("-1").find("not a range"));
  EXPECT_NE(std::string::npos, Render("3-1").find("ends before it starts"));
  EXPECT_NE(std::string::npos, Render("9999").find("not a CPU number (0-8191)"));
  EXPECT_NE(std::string::npos, Render(" 1").find("not a CPU number"));
}

}  // namespace
}  // namespace titan
