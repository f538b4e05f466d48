// `titan mcp`: runs Titan's Model Context Protocol server (mcp_server/, a Python app, docs/mcp.md) for the
// broker the global --host/--port name, in place of this process (exec): an MCP client that launched
// `titan mcp` speaks to it over this process's stdin and stdout.
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/python_app.h"

namespace titan::cli {
namespace {

constexpr const char* kMcpPython = "TITAN_MCP_PYTHON";

int RunMcp(const Target& target, const std::string& http) {
  std::vector<std::string> argv{
      PythonApp(kMcpPython), "-m", "titan_mcp", "--host", target.host, "--port", std::to_string(target.port)};
  if (!target.credentials.empty()) argv.insert(argv.end(), {"--credentials", target.credentials});
  // The global --timeout (milliseconds) as the server's per-call timeout (seconds).
  argv.insert(argv.end(), {"--timeout", std::to_string(target.timeout_ms / 1000.0)});
  if (!http.empty()) argv.insert(argv.end(), {"--http", http});
  return ExecPythonApp(argv, "MCP server", kMcpPython);
}

}  // namespace

void AddMcpCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto http = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("mcp", "Serve the cluster to LLM agents as a Model Context Protocol server");
  cmd->footer(
      "Speaks MCP over stdin/stdout: an MCP client runs `titan mcp` itself (command \"titan\", args\n"
      "[\"mcp\"]). Acts with --credentials (else the one `titan up` made for --host/--port): the broker\n"
      "allows what that principal's role allows and audits it. docs/mcp.md.");
  cmd->add_option("--http", *http,
                  "serve streamable HTTP at http://ADDR:PORT/mcp instead (ADDR:PORT, loopback by default; "
                  "requests need the bearer token it prints, or TITAN_MCP_TOKEN)");
  cmd->callback([&target, http, exit_code] { *exit_code = RunMcp(target, *http); });
}

}  // namespace titan::cli
