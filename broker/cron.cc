// Cron parsing and next-time search (minute resolution, UTC).
#include "broker/cron.h"

#include <ctime>
#include <sstream>
#include <vector>

namespace titan::broker {
namespace {

// Sets bits lo..hi of `bits` per one comma-separated field; false on a malformed field.
template <size_t N>
bool ParseField(const std::string& field, int lo, int hi, std::bitset<N>* bits, bool* any) {
  *any = field == "*";
  std::stringstream parts(field);
  std::string part;
  while (std::getline(parts, part, ',')) {
    int step = 1;
    if (const auto slash = part.find('/'); slash != std::string::npos) {
      try {
        step = std::stoi(part.substr(slash + 1));
      } catch (...) {
        return false;
      }
      if (step <= 0) return false;
      part = part.substr(0, slash);
    }
    int from = lo, to = hi;
    if (part != "*") {
      try {
        size_t used = 0;
        const auto dash = part.find('-');
        from = std::stoi(part.substr(0, dash), &used);
        if (dash == std::string::npos && used != part.size()) return false;
        to = dash == std::string::npos ? (step > 1 ? hi : from) : std::stoi(part.substr(dash + 1));
      } catch (...) {
        return false;
      }
    }
    if (from < lo || to > hi || from > to) return false;
    for (int v = from; v <= to; v += step) bits->set(static_cast<size_t>(v));
  }
  return !part.empty();
}

}  // namespace

std::optional<CronSpec> ParseCron(const std::string& expr, std::string* error) {
  std::stringstream in(expr);
  std::vector<std::string> f;
  for (std::string w; in >> w;) f.push_back(w);
  if (f.size() != 5) {
    *error = "a cron expression has 5 fields (minute hour day-of-month month day-of-week); got " +
             std::to_string(f.size()) + " in '" + expr + "'";
    return std::nullopt;
  }
  CronSpec s;
  bool unused = false;
  std::bitset<8> weekdays;
  const char* names[] = {"minute (0-59)", "hour (0-23)", "day-of-month (1-31)", "month (1-12)",
                         "day-of-week (0-7)"};
  const bool ok[] = {ParseField(f[0], 0, 59, &s.minutes, &unused), ParseField(f[1], 0, 23, &s.hours, &unused),
                     ParseField(f[2], 1, 31, &s.days, &s.days_any),
                     ParseField(f[3], 1, 12, &s.months, &unused),
                     ParseField(f[4], 0, 7, &weekdays, &s.weekdays_any)};
  for (int i = 0; i < 5; ++i) {
    if (!ok[i]) {
      *error = "cron field " + std::to_string(i + 1) + " '" + f[static_cast<size_t>(i)] +
               "' is not a valid " + names[i];
      return std::nullopt;
    }
  }
  for (int d = 0; d < 7; ++d) s.weekdays[static_cast<size_t>(d)] = weekdays[static_cast<size_t>(d)];
  if (weekdays[7]) s.weekdays[0] = true;
  return s;
}

int64_t NextCronTime(const CronSpec& s, int64_t after_ms) {
  time_t t = static_cast<time_t>(after_ms / 1000 / 60 * 60 + 60);  // the next whole minute
  const time_t limit = t + 5LL * 366 * 24 * 3600;
  while (t < limit) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (!s.months[static_cast<size_t>(tm.tm_mon + 1)]) {
      tm.tm_mon += 1;
      tm.tm_mday = 1;
      tm.tm_hour = tm.tm_min = 0;
      t = timegm(&tm);
      continue;
    }
    const bool dom = s.days[static_cast<size_t>(tm.tm_mday)],
               dow = s.weekdays[static_cast<size_t>(tm.tm_wday)];
    const bool day = s.days_any ? dow : (s.weekdays_any ? dom : (dom || dow));
    if (!day) {
      tm.tm_mday += 1;
      tm.tm_hour = tm.tm_min = 0;
      t = timegm(&tm);
      continue;
    }
    if (!s.hours[static_cast<size_t>(tm.tm_hour)]) {
      tm.tm_hour += 1;
      tm.tm_min = 0;
      t = timegm(&tm);
      continue;
    }
    if (!s.minutes[static_cast<size_t>(tm.tm_min)]) {
      t += 60;
      continue;
    }
    return static_cast<int64_t>(t) * 1000;
  }
  return -1;
}

std::string FormatUtc(int64_t ms, const char* format) {
  const time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  return std::strftime(buf, sizeof buf, format, &tm) > 0 ? buf : "";
}

}  // namespace titan::broker
