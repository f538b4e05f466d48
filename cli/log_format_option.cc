// A node's --log-format (broker, store, worker, worker-reaper): text for people, or json for log stacks.
#include "base/log_format.h"
#include "cli/commands.h"

namespace titan::cli {

void AddLogFormatOption(CLI::App& node, std::string* format) {
  node.add_option("--log-format", *format,
                  "text, or json: one JSON object per line (time, level, component, message, ids) for a log "
                  "stack")
      ->envname("TITAN_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

void ApplyLogFormat(const std::string& format, std::string_view component) {
  UseLogFormat(ParseLogFormat(format).value_or(LogFormat::kText), component);
}

}  // namespace titan::cli
