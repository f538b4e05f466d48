// `titan dashboard`: runs the operator dashboard (dashboard/, a Python web app) against the broker the
// global --host/--port name, in place of this process (exec), so Ctrl-C and its exit status are its own.
#include <memory>

#include "cli/commands.h"
#include "cli/dashboard_launch.h"
#include "cli/python_app.h"

namespace titan::cli {
namespace {

int RunDashboard(const Target& target, const std::string& listen) {
  DashboardLaunch launch{.listen = listen,
                         .broker_host = target.host,
                         .broker_port = target.port,
                         .credentials = target.credentials};
  return ExecPythonApp(DashboardArgv(launch), "dashboard", "TITAN_DASHBOARD_PYTHON");
}

}  // namespace

void AddDashboardCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto listen = std::make_shared<std::string>("127.0.0.1:9095");
  CLI::App* cmd = app.add_subcommand("dashboard", "Serve the operator dashboard (a web UI) for a cluster");
  cmd->footer(
      "Prints a one-time login URL for the dashboard's own credential (--credentials, else the one\n"
      "`titan up` made for --host/--port); others log in with their credential file. docs/dashboard.md.");
  cmd->add_option("--listen", *listen, "ADDR:PORT to serve on (loopback by default)")->capture_default_str();
  cmd->callback([&target, listen, exit_code] { *exit_code = RunDashboard(target, *listen); });
}

}  // namespace titan::cli
