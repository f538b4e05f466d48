// How a node writes its log lines (--log-format): text for people (the default, set in cli/main.cc), or
// json for log stacks: one object per line with time (UTC, ms), level, component, message, and the ids
// (job, worker, ...) that the code logging the line has in scope (LogScope).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace titan {

enum class LogFormat { kText, kJson };

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> ParseLogFormat(std::string_view name);

// Makes every logger of this process write `format` (kText leaves the pattern main set). `component`
// ("broker", "store", "worker") is each json line's component; a message starting "<component>: " loses
// that prefix there.
void UseLogFormat(LogFormat format, std::string_view component);

// Ids a json line carries while this scope is alive on this thread (the loop's thread: one turn's work on
// a job or a worker), after the scopes around it; a key an inner scope names again is the inner value.
// An empty value is left out. Text lines are unchanged: their message names the ids already.
class LogScope {
 public:
  LogScope(std::initializer_list<std::pair<std::string_view, std::string_view>> ids);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  size_t restore_;
};

// One json line (no newline): {"time":..,"level":..,"component":..,"message":..,<ids>}. Any bytes are
// escaped as JSON requires; bytes that are not UTF-8 become U+FFFD.
std::string JsonLogLine(int64_t wall_ms, std::string_view level, std::string_view component,
                        std::string_view message);

}  // namespace titan
