// `titan dashboard`: runs the operator dashboard (dashboard/, a Python web app) against the broker the
// global --host/--port name, in place of this process (exec), so Ctrl-C and its exit status are its own.
#include <memory>

#include "cli/commands.h"
#include "cli/dashboard_launch.h"
#include "cli/python_app.h"

namespace titan::cli {
namespace {

int RunDashboard(const Target& target, const std::string& listen, const std::string& metrics_token_file) {
  DashboardLaunch launch{.listen = listen,
                         .broker_host = target.host,
                         .broker_port = target.port,
                         .credentials = target.credentials,
                         .metrics_token_file = metrics_token_file};
  return ExecPythonApp(DashboardArgv(launch), "dashboard", "TITAN_DASHBOARD_PYTHON");
}

}  // namespace

void AddMetricsTokenOption(CLI::App& cmd, std::string* path) {
  cmd.add_option("--metrics-token-file", *path,
                 "a file holding the bearer token the dashboard's /metrics asks for (needed when it listens "
                 "beyond loopback; Prometheus reads the same file: authorization: credentials_file)")
      ->check(CLI::ExistingFile);
}

void AddDashboardCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto listen = std::make_shared<std::string>("127.0.0.1:9095");
  CLI::App* cmd = app.add_subcommand("dashboard", "Serve the operator dashboard (a web UI) for a cluster");
  cmd->footer(
      "Prints a one-time login URL for the dashboard's own credential (--credentials, else the one\n"
      "`titan up` made for --host/--port); others log in with their credential file. docs/dashboard.md.\n"
      "It also serves Prometheus metrics at /metrics and /healthz, /readyz (docs/observability.md).");
  cmd->add_option("--listen", *listen, "ADDR:PORT to serve on (loopback by default)")->capture_default_str();
  auto token = std::make_shared<std::string>();
  AddMetricsTokenOption(*cmd, token.get());
  cmd->callback([&target, listen, token, exit_code] { *exit_code = RunDashboard(target, *listen, *token); });
}

}  // namespace titan::cli
