// The dashboard's interpreter and command line (see dashboard_launch.h).
#include "cli/dashboard_launch.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace titan::cli {

namespace fs = std::filesystem;

std::string DashboardPython() {
  if (const char* own = std::getenv("TITAN_DASHBOARD_PYTHON"); own != nullptr && *own != '\0') return own;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path venv = exe.parent_path().parent_path().parent_path() / ".venv" / "bin" / "python";
    if (access(venv.c_str(), X_OK) == 0) return venv.string();
  }
  return "python3";
}

std::vector<std::string> DashboardArgv(const DashboardLaunch& launch) {
  std::vector<std::string> argv{DashboardPython(), "-m",           "titan_dashboard",
                                "--listen",        launch.listen,  "--host",
                                launch.broker_host, "--port",      std::to_string(launch.broker_port)};
  if (!launch.credentials.empty()) argv.insert(argv.end(), {"--credentials", launch.credentials});
  if (!launch.metrics_token_file.empty())
    argv.insert(argv.end(), {"--metrics-token-file", launch.metrics_token_file});
  return argv;
}

}  // namespace titan::cli
