// Building the titan app and parsing one command line with it.
#include "cli/app.h"

#include <algorithm>
#include <optional>

namespace titan::cli {
namespace {

// Thrown (from the parse-complete callback, before any command runs) when words were split off after
// `--` but the command chosen does not pass them to a script.
struct NotScriptArgs {};

// Client commands: their help says how they find the broker.
constexpr const char* kClientCommands[] = {
    "run",           "status",    "jobs",       "logs",     "stop",    "cancel",   "shutdown",  "stats",
    "json",          "tail",      "kv",         "worker",   "submit",  "dags",     "dag",       "dag-cancel",
    "dag-rerun",     "runs",      "run-status", "approve",  "reject",  "schedule", "schedules", "upload",
    "deploy-script", "artifacts", "deploy",     "services", "restart", "audit",    "dashboard", "mcp",
    "delete",        "workers",   "volume",     "wait"};

void AddGlobalOptions(CLI::App& app, Target* target) {
  app.set_version_flag("--version", TITAN_VERSION);
  app.add_option("--host", target->host,
                 "Titan's address (a broker, or a store); brokers sharing a PostgreSQL journal: several, "
                 "repeated or comma-separated, host or host:port (the leader is found)")
      ->envname("TITAN_HOST")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::Join)
      ->capture_default_str();
  app.add_option("--port", target->port, "Titan's port")->envname("TITAN_PORT")->capture_default_str();
  app.add_option(
         "--credentials", target->credentials,
         "credential file for a cluster with keys (default: the one `titan up` made for --host/--port)")
      ->envname("TITAN_CREDENTIALS");
  app.add_option("--timeout", target->timeout_ms, "milliseconds to wait for an answer")
      ->envname("TITAN_TIMEOUT_MS")
      ->capture_default_str();
  app.footer(
      "Start here:\n"
      "  titan up                 run a store, a broker and 2 workers on this machine (Ctrl-C stops them)\n"
      "  titan run hello.py -w    submit a script, print its output, exit with its outcome\n"
      "  titan submit p.yaml -w   submit a YAML pipeline (a DAG) and follow it to the end\n"
      "  titan stats              workers and queues\n"
      "  titan                    the Titan shell (commands from a pipe too: echo stats | titan)\n"
      "Client commands find the broker at --host/--port (or TITAN_HOST/TITAN_PORT).\n"
      "`titan COMMAND --help` explains each command.");
}

void AddCommands(CLI::App& app, const Target& target, const std::vector<std::string>& script_args,
                 int* exit_code) {
  AddUpCommand(app, exit_code);
  AddRunCommand(app, target, script_args, exit_code);
  AddSubmitCommand(app, target, exit_code);
  AddStatusCommand(app, target, exit_code);
  AddJobsCommand(app, target, exit_code);
  AddLogsCommand(app, target, exit_code);
  AddStopCommands(app, target, exit_code);
  AddStatsCommand(app, target, exit_code);
  AddAuditCommand(app, target, exit_code);
  AddTailCommand(app, target, exit_code);
  AddDagCommands(app, target, exit_code);
  AddRunCommands(app, target, exit_code);
  AddGateCommands(app, target, exit_code);
  AddScheduleCommands(app, target, exit_code);
  AddVolumeCommands(app, target, exit_code);
  AddArtifactCommands(app, target, exit_code);
  AddServiceCommands(app, target, script_args, exit_code);
  AddKvCommand(app, target, exit_code);
  AddBrokerCommand(app, exit_code);
  AddWorkerCommand(app, target, exit_code);
  AddStoreCommand(app, target, exit_code);
  AddKeysCommand(app, exit_code);
  AddDashboardCommand(app, target, exit_code);
  AddMcpCommand(app, target, exit_code);
  for (const char* name : kClientCommands) {
    CLI::App* cmd = app.get_subcommand(name);
    const std::string own = cmd->get_footer();
    cmd->footer(
        (own.empty() ? "" : own + "\n") +
        "Finds the broker with the global --host/--port (TITAN_HOST/TITAN_PORT, default 127.0.0.1:9090).");
  }
}

// One parse of `words`; `script_args` (may be null) are the words split off after `--`. Nullopt, with
// nothing run or printed, when they were split off in vain: the command takes no script arguments, or the
// words before `--` do not parse (`titan run -- x.py`); the caller then parses the line whole.
std::optional<int> Parse(const std::vector<std::string>& words, const std::vector<std::string>* script_args,
                         CommandScope scope, Target* target, bool* no_command) {
  CLI::App app{"Titan: one runtime for scripts, DAG pipelines, services and agent workflows", "titan"};
  app.fallthrough();  // `titan stats --port 9190` works like `titan --port 9190 stats`
  if (scope == CommandScope::kProgram) AddGlobalOptions(app, target);
  app.require_subcommand(scope == CommandScope::kProgram ? 0 : 1, 1);
  int exit_code = kExitOk;
  const std::vector<std::string> none;
  AddCommands(app, *target, script_args ? *script_args : none, &exit_code);
  if (script_args != nullptr) {
    app.parse_complete_callback([&app] {
      if (!app.get_subcommand("run")->parsed() && !app.get_subcommand("deploy")->parsed())
        throw NotScriptArgs{};
    });
  }
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 takes them last first
  try {
    app.parse(reversed);
  } catch (const NotScriptArgs&) {
    return std::nullopt;
  } catch (const CLI::ParseError& e) {
    if (script_args != nullptr) return std::nullopt;
    const int code = app.exit(e);  // prints help or the usage error
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (no_command != nullptr) *no_command = app.get_subcommands().empty();
  return exit_code;
}

}  // namespace

int RunCommandLine(const std::vector<std::string>& words, CommandScope scope, Target* target,
                   bool* no_command) {
  if (no_command != nullptr) *no_command = false;
  const auto dashes = std::find(words.begin(), words.end(), "--");
  if (dashes != words.end()) {
    const std::vector<std::string> head(words.begin(), dashes), tail(dashes + 1, words.end());
    if (const std::optional<int> code = Parse(head, &tail, scope, target, no_command)) return *code;
  }
  return *Parse(words, nullptr, scope, target, no_command);
}

}  // namespace titan::cli
