// The Titan shell: `titan` with no command, as the original Titan's CLI was. On a terminal: a banner
// naming the broker, a `titan> ` prompt with line editing and history (~/.titan_history). From a pipe
// (`echo stats | titan`): the same commands, one per line, without banner or prompt. Each line is read
// by ParseShellLine (shell_line.h) and runs as the subcommand of its name (app.h).
#pragma once

#include "cli/commands.h"

namespace titan::cli {

// Reads and runs lines from stdin until `exit`, `quit` or end of input; blank lines and # comments are
// skipped; a bad or unknown command prints one line and the shell goes on. Returns the exit code of the
// last command that failed (kExitUsage for a line that could not be run), 0 when none did.
int RunShell(const Target& target);

}  // namespace titan::cli
