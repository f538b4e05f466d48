// The Python apps of this repository that `titan` runs (the dashboard, dashboard/; the MCP server,
// mcp_server/): which interpreter has them, and running one in place of this process.
#pragma once

#include <string>
#include <vector>

namespace titan::cli {

// The interpreter that has the apps installed: $<override_env> (e.g. TITAN_DASHBOARD_PYTHON) when set,
// else the .venv that cli/install.sh makes next to the build this executable is in
// (<root>/build/bin/titan -> <root>/.venv/bin/python), else python3 from PATH.
std::string PythonApp(const char* override_env);

// Replaces this process with `argv` (argv[0] from PythonApp), so signals and the exit status are the
// app's own. Returns only when that fails: prints why, and how to install `what` or point
// `override_env` at a Python that has it, and returns kExitUsage.
int ExecPythonApp(const std::vector<std::string>& argv, const std::string& what, const char* override_env);

}  // namespace titan::cli
