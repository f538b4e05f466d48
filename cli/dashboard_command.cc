// `titan dashboard`: runs the operator dashboard (dashboard/, a Python web app) against the broker the
// global --host/--port name, in place of this process (exec), so Ctrl-C and its exit status are its own.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/dashboard_launch.h"

namespace titan::cli {
namespace {

int RunDashboard(const Target& target, const std::string& listen) {
  DashboardLaunch launch{.listen = listen, .broker_host = target.host, .broker_port = target.port,
                         .credentials = target.credentials};
  const std::vector<std::string> argv = DashboardArgv(launch);
  std::vector<char*> raw;
  for (const std::string& word : argv) raw.push_back(const_cast<char*>(word.c_str()));
  raw.push_back(nullptr);
  execvp(raw[0], raw.data());
  std::cerr << "titan: cannot run the dashboard with '" << argv[0] << "': " << std::strerror(errno)
            << "; run cli/install.sh (it installs the dashboard into .venv) or set TITAN_DASHBOARD_PYTHON to a "
               "Python that has it\n";
  return kExitUsage;
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
