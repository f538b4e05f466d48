// Where the dashboard (the Python app in dashboard/, docs/dashboard.md) is run from, shared by
// `titan dashboard` (which execs it) and `titan up` (which runs it as one more child).
#pragma once

#include <string>
#include <vector>

namespace titan::cli {

struct DashboardLaunch {
  std::string listen = "127.0.0.1:9095";  // ADDR:PORT it serves on
  std::string broker_host = "127.0.0.1";
  int broker_port = 9090;
  std::string credentials;         // its own credential file; empty: it finds one as every client does
  std::string metrics_token_file;  // the bearer token /metrics asks for (docs/observability.md); empty: none
};

// argv of `<python> -m titan_dashboard --listen ... --host ... --port ... [--credentials ...]
// [--metrics-token-file ...]`, the interpreter PythonApp("TITAN_DASHBOARD_PYTHON") (python_app.h).
std::vector<std::string> DashboardArgv(const DashboardLaunch& launch);

}  // namespace titan::cli
