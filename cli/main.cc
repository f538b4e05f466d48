// `titan`: one executable, many subcommands; with none, the Titan shell. main only parses and dispatches.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/app.h"
#include "cli/shell.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("titan"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  titan::cli::Target target;
  bool no_command = false;
  const int exit_code = titan::cli::RunCommandLine(std::vector<std::string>(argv + 1, argv + argc),
                                                   titan::cli::CommandScope::kProgram, &target, &no_command);
  return no_command ? titan::cli::RunShell(target) : exit_code;
}
