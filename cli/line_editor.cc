// LineEditor over libedit's readline interface.
#include "cli/line_editor.h"

#include <editline/readline.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace titan::cli {
namespace {

constexpr int kHistoryLines = 1000;

}  // namespace

LineEditor::LineEditor(std::string history_file) : history_file_(std::move(history_file)) {
  rl_readline_name = "titan";  // the section of ~/.editrc that applies
  using_history();
  stifle_history(kHistoryLines);
  if (!history_file_.empty()) (void)read_history(history_file_.c_str());
}

LineEditor::~LineEditor() {
  if (!history_file_.empty()) (void)write_history(history_file_.c_str());
}

std::optional<std::string> LineEditor::ReadLine(const std::string& prompt) {
  char* raw = readline(prompt.c_str());
  if (raw == nullptr) return std::nullopt;
  std::string line(raw);
  std::free(raw);
  if (line.find_first_not_of(" \t") != std::string::npos) add_history(line.c_str());
  return line;
}

std::string DefaultHistoryFile() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    const passwd* pw = getpwuid(getuid());
    home = pw != nullptr ? pw->pw_dir : nullptr;
  }
  return home != nullptr && *home != '\0' ? std::string(home) + "/.titan_history" : "";
}

}  // namespace titan::cli
