// `titan`: one executable, many subcommands. main only parses options and dispatches.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("titan"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"Titan: one runtime for scripts, DAG pipelines, services and agent workflows"};
  app.require_subcommand(1);
  titan::cli::Target target;
  app.add_option("--host", target.host, "Titan's address (a broker, or a store)")->envname("TITAN_HOST")
      ->capture_default_str();
  app.add_option("--port", target.port, "Titan's port")->envname("TITAN_PORT")->capture_default_str();
  app.add_option("--timeout", target.timeout_ms, "milliseconds to wait for an answer")->envname("TITAN_TIMEOUT_MS")
      ->capture_default_str();

  int exit_code = titan::cli::kExitOk;
  titan::cli::AddStoreCommand(app, &exit_code);
  titan::cli::AddKvCommand(app, target, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help or the usage error
    return code == 0 ? 0 : titan::cli::kExitUsage;
  }
  return exit_code;
}
