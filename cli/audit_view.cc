// `titan audit`'s --since and renderings.
#include "cli/audit_view.h"

#include <ctime>

#include "cli/duration.h"
#include "cli/job_view.h"

namespace titan::cli {
namespace {

constexpr int64_t kDayMs = 86'400'000;

// A count of days ("7d", "1.5d"): its milliseconds. False for anything else.
bool ParseDays(std::string_view text, int64_t* ms) {
  if (text.size() < 2 || text.back() != 'd') return false;
  const std::string_view number = text.substr(0, text.size() - 1);
  if (number.find_first_not_of("0123456789.") != std::string_view::npos) return false;
  std::string ignored;
  int64_t seconds_as_ms = 0;  // a bare number is seconds: 1000 x the days
  if (!ParseDuration("--since", number, &seconds_as_ms, &ignored)) return false;
  *ms = seconds_as_ms / 1000 * kDayMs + seconds_as_ms % 1000 * kDayMs / 1000;
  return true;
}

// A local ("2026-05-01 13:00") or UTC ("2026-05-01T13:00:00Z") time: its epoch ms. False otherwise.
bool ParseTime(std::string_view text, int64_t* ms) {
  const std::string s(text);
  for (const char* format :
       {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"}) {
    tm t{};
    const char* rest = strptime(s.c_str(), format, &t);
    if (rest == nullptr || (*rest != '\0' && std::string_view(rest) != "Z")) continue;
    t.tm_isdst = -1;  // local time: let the zone's rules say whether summer time applies
    const time_t at = *rest == 'Z' ? timegm(&t) : mktime(&t);
    if (at == static_cast<time_t>(-1)) return false;
    *ms = static_cast<int64_t>(at) * 1000;
    return true;
  }
  return false;
}

}  // namespace

bool ParseSince(std::string_view text, int64_t now_ms, int64_t* since_ms, std::string* error) {
  int64_t ago = 0;
  std::string ignored;
  if (ParseDays(text, &ago) || ParseDuration("--since", text, &ago, &ignored)) {
    *since_ms = now_ms - ago;
    return true;
  }
  if (ParseTime(text, since_ms)) return true;
  *error = "--since '" + std::string(text) +
           "': give a duration before now (30m, 2h, 7d) or a time (2026-05-01, '2026-05-01 13:00' in local "
           "time, 2026-05-01T13:00:00Z in UTC)";
  return false;
}

std::string RenderAuditTable(const std::vector<wire::AuditEntry>& entries) {
  std::vector<std::vector<std::string>> rows = {{"TIME", "PRINCIPAL", "ACTION", "TARGET", "OUTCOME"}};
  for (const wire::AuditEntry& e : entries) {
    rows.push_back(
        {FormatTime(e.ts_ms), e.principal, e.action, e.target.empty() ? "-" : e.target, e.outcome});
  }
  return RenderColumns(rows);
}

std::string RenderAuditJson(const std::vector<wire::AuditEntry>& entries) {
  std::string out = "[";
  for (size_t i = 0; i < entries.size(); ++i) {
    out += (i ? ",\n " : "\n ") + DatumJson(entries[i].ToDatum());
  }
  return out + (entries.empty() ? "]\n" : "\n]\n");
}

}  // namespace titan::cli
