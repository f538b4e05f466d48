// The shell's loop: one line at a time, from libedit on a terminal or from the pipe otherwise.
#include "cli/shell.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>

#include "base/node_client.h"
#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/line_editor.h"
#include "cli/shell_line.h"

namespace titan::cli {
namespace {

constexpr int kBannerProbeMs = 2000;  // the banner does not wait longer for the broker than this

void PrintBanner(const Target& target) {
  wire::NodeClient probe(target.host, target.port, std::min(target.timeout_ms, kBannerProbeMs));
  std::string error;
  const bool connected = UseCredential(target, &probe) && probe.Discover(&error);
  std::cout << "==========================================\n"
               "    [INFO] TITAN DISTRIBUTED ORCHESTRATOR\n"
               "==========================================\n";
  if (connected) {
    std::cout << "Connected to: " << target.host << ':' << target.port << '\n';
  } else {
    std::cout << "Not connected to " << target.host << ':' << target.port << ": " << error
              << "\n(each command tries again; `titan up` starts Titan here, --host/--port name another)\n";
  }
  std::cout << "Commands: " << ShellCommandList() << "\n`help` explains them.\n" << std::endl;
}

// Runs one line; its exit code (0 for nothing to do), or nullopt for exit.
std::optional<int> RunLine(const std::string& text, const Target& target) {
  const ShellLine line = ParseShellLine(text);
  switch (line.kind) {
    case ShellLine::Kind::kNothing:
      return kExitOk;
    case ShellLine::Kind::kExit:
      return std::nullopt;
    case ShellLine::Kind::kHelp:
      std::cout << ShellHelp() << std::flush;
      return kExitOk;
    case ShellLine::Kind::kError:
      std::cerr << "titan: " << line.error << std::endl;
      return kExitUsage;
    case ShellLine::Kind::kCommand:
      break;
  }
  Target copy = target;
  const int rc = RunCommandLine(line.words, CommandScope::kShellLine, &copy);
  std::cout << std::flush;
  return rc;
}

}  // namespace

int RunShell(const Target& target) {
  const bool terminal = isatty(STDIN_FILENO) == 1;
  std::unique_ptr<LineEditor> editor;
  if (terminal) {
    PrintBanner(target);
    editor = std::make_unique<LineEditor>(DefaultHistoryFile());
  }
  int status = kExitOk;
  for (;;) {
    std::optional<std::string> text;
    if (terminal) {
      text = editor->ReadLine("titan> ");
    } else if (std::string piped; std::getline(std::cin, piped)) {
      text = std::move(piped);
    }
    if (!text) {
      if (terminal) std::cout << std::endl;  // Ctrl-D: leave the user's prompt on a line of its own
      break;
    }
    const std::optional<int> rc = RunLine(*text, target);
    if (!rc) break;
    if (*rc != kExitOk) status = *rc;
  }
  return status;
}

}  // namespace titan::cli
