// --log-format json: a spdlog formatter writing one JSON object per line, through nlohmann::json (its
// escaping, its UTF-8 checks), with the ids of the thread's LogScopes.
#include "base/log_format.h"

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

namespace titan {
namespace {

thread_local std::vector<std::pair<std::string, std::string>> scoped_ids;

// "2024-05-01T12:00:00.123Z"
std::string UtcStamp(int64_t wall_ms) {
  const time_t seconds = static_cast<time_t>(wall_ms / 1000);
  struct tm utc {};
  gmtime_r(&seconds, &utc);
  char out[40];
  const size_t n = strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(out + n, sizeof out - n, ".%03dZ", static_cast<int>(wall_ms % 1000));
  return out;
}

class JsonFormatter : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string component) : component_(std::move(component)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const int64_t wall_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    const std::string line = JsonLogLine(wall_ms, std::string_view(level.data(), level.size()), component_,
                                         std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(component_);
  }

 private:
  std::string component_;
};

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

void UseLogFormat(LogFormat format, std::string_view component) {
  if (format == LogFormat::kJson)
    spdlog::set_formatter(std::make_unique<JsonFormatter>(std::string(component)));
}

LogScope::LogScope(std::initializer_list<std::pair<std::string_view, std::string_view>> ids)
    : restore_(scoped_ids.size()) {
  for (const auto& [key, value] : ids) {
    if (!value.empty()) scoped_ids.emplace_back(key, value);
  }
}

LogScope::~LogScope() { scoped_ids.resize(restore_); }

std::string JsonLogLine(int64_t wall_ms, std::string_view level, std::string_view component,
                        std::string_view message) {
  const std::string prefix = std::string(component) + ": ";
  if (message.substr(0, prefix.size()) == prefix) message.remove_prefix(prefix.size());
  nlohmann::ordered_json line;
  line["time"] = UtcStamp(wall_ms);
  line["level"] = level;
  line["component"] = component;
  line["message"] = message;
  for (const auto& [key, value] : scoped_ids) line[key] = value;  // an inner scope's value wins
  return line.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace titan
