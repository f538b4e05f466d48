// The dashboard's interpreter and command line (see dashboard_launch.h).
#include "cli/dashboard_launch.h"

#include "cli/python_app.h"

namespace titan::cli {

std::vector<std::string> DashboardArgv(const DashboardLaunch& launch) {
  std::vector<std::string> argv{PythonApp("TITAN_DASHBOARD_PYTHON"),
                                "-m",
                                "titan_dashboard",
                                "--listen",
                                launch.listen,
                                "--host",
                                launch.broker_host,
                                "--port",
                                std::to_string(launch.broker_port)};
  if (!launch.credentials.empty()) argv.insert(argv.end(), {"--credentials", launch.credentials});
  if (!launch.metrics_token_file.empty())
    argv.insert(argv.end(), {"--metrics-token-file", launch.metrics_token_file});
  return argv;
}

}  // namespace titan::cli
