// ParseCpuList: "0-1,4" -> {0, 1, 4}.
#include "base/cpu_list.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace titan {
namespace {

bool ParseNumber(std::string_view s, int* out) {
  if (s.empty() ||
      !std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && *out <= kMaxCpuNumber;
}

}  // namespace

Result<std::vector<int>> ParseCpuList(const std::string& text) {
  const auto bad = [&text](const std::string& why) {
    return Status::Invalid("cpu_cores '" + text + "' " + why +
                           "; write CPU numbers and ranges separated by commas, e.g. \"0-1\" or \"2,4\"");
  };
  if (text.empty()) return bad("is empty");
  std::vector<int> cpus;
  std::string_view rest(text);
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    const size_t dash = part.find('-');
    int first = 0, last = 0;
    if (dash == std::string_view::npos) {
      if (!ParseNumber(part, &first))
        return bad("has '" + std::string(part) + "', not a CPU number (0-8191)");
      last = first;
    } else if (!ParseNumber(part.substr(0, dash), &first) || !ParseNumber(part.substr(dash + 1), &last)) {
      return bad("has '" + std::string(part) + "', not a range N-M of CPU numbers (0-8191)");
    } else if (last < first) {
      return bad("has the range '" + std::string(part) + "', which ends before it starts");
    }
    for (int c = first; c <= last; ++c) cpus.push_back(c);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

}  // namespace titan
