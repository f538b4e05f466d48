// `titan`: one executable, many subcommands. main only parses options and dispatches.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("titan"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"Titan: one runtime for scripts, DAG pipelines, services and agent workflows"};
  app.set_version_flag("--version", TITAN_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // `titan stats --port 9190` works like `titan --port 9190 stats`
  titan::cli::Target target;
  app.add_option("--host", target.host, "Titan's address (a broker, or a store)")
      ->envname("TITAN_HOST")
      ->capture_default_str();
  app.add_option("--port", target.port, "Titan's port")->envname("TITAN_PORT")->capture_default_str();
  app.add_option("--timeout", target.timeout_ms, "milliseconds to wait for an answer")
      ->envname("TITAN_TIMEOUT_MS")
      ->capture_default_str();

  int exit_code = titan::cli::kExitOk;
  titan::cli::AddUpCommand(app, &exit_code);
  titan::cli::AddRunCommand(app, target, &exit_code);
  titan::cli::AddSubmitCommand(app, target, &exit_code);
  titan::cli::AddStatusCommand(app, target, &exit_code);
  titan::cli::AddJobsCommand(app, target, &exit_code);
  titan::cli::AddLogsCommand(app, target, &exit_code);
  titan::cli::AddStopCommands(app, target, &exit_code);
  titan::cli::AddStatsCommand(app, target, &exit_code);
  titan::cli::AddTailCommand(app, target, &exit_code);
  titan::cli::AddDagCommands(app, target, &exit_code);
  titan::cli::AddRunCommands(app, target, &exit_code);
  titan::cli::AddGateCommands(app, target, &exit_code);
  titan::cli::AddScheduleCommands(app, target, &exit_code);
  titan::cli::AddArtifactCommands(app, target, &exit_code);
  titan::cli::AddServiceCommands(app, target, &exit_code);
  titan::cli::AddKvCommand(app, target, &exit_code);
  titan::cli::AddBrokerCommand(app, &exit_code);
  titan::cli::AddWorkerCommand(app, target, &exit_code);
  titan::cli::AddStoreCommand(app, &exit_code);
  app.footer(
      "Start here:\n"
      "  titan up                 run a store, a broker and 2 workers on this machine (Ctrl-C stops them)\n"
      "  titan run hello.py -w    submit a script, print its output, exit with its outcome\n"
      "  titan submit p.yaml -w   submit a YAML pipeline (a DAG) and follow it to the end\n"
      "  titan stats              workers and queues\n"
      "Client commands find the broker at --host/--port (or TITAN_HOST/TITAN_PORT).\n"
      "`titan COMMAND --help` explains each command.");
  for (const char* name :
       {"run",           "status",     "jobs",    "logs",    "stop",     "shutdown",  "stats",
        "tail",          "kv",         "worker",  "submit",  "dags",     "dag",       "dag-cancel",
        "runs",          "run-status", "approve", "reject",  "schedule", "schedules", "upload",
        "deploy-script", "artifacts",  "deploy",  "services"}) {
    CLI::App* cmd = app.get_subcommand(name);
    const std::string own = cmd->get_footer();
    cmd->footer(
        (own.empty() ? "" : own + "\n") +
        "Finds the broker with the global --host/--port (TITAN_HOST/TITAN_PORT, default 127.0.0.1:9090).");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help or the usage error
    return code == 0 ? 0 : titan::cli::kExitUsage;
  }
  return exit_code;
}
