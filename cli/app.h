// The `titan` command line: every subcommand on one CLI11 app, and how one command line (the
// program's own, or one line of the Titan shell) is parsed and run. main and the shell both come here,
// so a shell command runs exactly the code of the subcommand of the same name.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"

namespace titan::cli {

// Whose command line it is: the program's (global options --host/--port/--timeout; with no command the
// caller opens the shell) or one line of the shell (commands only, on the shell's target).
enum class CommandScope { kProgram, kShellLine };

// Parses `words` (what follows the program name) and runs the command they choose. Returns its exit code
// (commands.h): kExitUsage after a usage error, 0 after --help or --version, both printed. With kProgram,
// *target is filled from the global options and *no_command (if given) says that no command was named.
// The words after the first `--` are the script's own arguments for `run` and `deploy` (CLI11 2.1 takes a
// `--` only while a command still lacks a positional, so it is split off first); any other command is
// parsed from the line as written.
int RunCommandLine(const std::vector<std::string>& words, CommandScope scope, Target* target,
                   bool* no_command = nullptr);

}  // namespace titan::cli
