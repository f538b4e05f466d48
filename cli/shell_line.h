// One line of the Titan shell (`titan` with no command) read into what to do: nothing, help, exit, an
// error, or the titan command line to run. Pure: the shell (shell.h) carries it out, and a command runs
// as the subcommand of the same name (app.h), so the shell has no second implementation of any.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace titan::cli {

struct ShellLine {
  enum class Kind { kNothing, kCommand, kHelp, kExit, kError } kind = Kind::kNothing;
  std::vector<std::string> words;  // kCommand: the titan command line (subcommand first)
  std::string error;               // kError: one line saying what was wrong and what to do
};

// Blank lines and lines starting with '#' are nothing. Words are split as a POSIX shell would quote
// them, without expansion. The original's forms become subcommand lines: `run FILE REQUIREMENT` gives
// `run FILE --requirement REQUIREMENT`; `dag` takes the rest of the line as its DAG string when it is
// not quoted (jobs may be separated by "; "), with a trailing --wait; `help COMMAND` gives `COMMAND
// --help`. Unknown commands, and `store` without get/set, are errors.
ShellLine ParseShellLine(std::string_view line);

// "stats, json, ..., help, exit": the banner's list.
std::string ShellCommandList();
// `help`: each command with its arguments and what it does, one per line.
std::string ShellHelp();

}  // namespace titan::cli
