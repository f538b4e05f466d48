// Reading the Titan shell's lines from a terminal with libedit (BSD editline, through its readline
// interface): line editing, and a history kept in a file across sessions. libedit's readline interface
// is process-wide state, so at most one LineEditor may exist at a time; the shell's thread only.
#pragma once

#include <optional>
#include <string>

namespace titan::cli {

class LineEditor {
 public:
  // Loads `history_file` (may be empty: no file). A missing or unreadable file is not an error.
  explicit LineEditor(std::string history_file);
  // Writes the history back; a failure to write it is ignored (the shell has ended anyway).
  ~LineEditor();
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  // Shows `prompt` and returns the line typed (without its newline), or nullopt at end of input
  // (Ctrl-D). Non-blank lines join the history.
  std::optional<std::string> ReadLine(const std::string& prompt);

 private:
  std::string history_file_;
};

// $HOME/.titan_history (HOME, else the user's passwd entry); empty when no home is known.
std::string DefaultHistoryFile();

}  // namespace titan::cli
