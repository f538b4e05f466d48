// The subcommands of `titan`. Each Add* registers its options on the app and, when chosen, stores
// the exit code of running it in *exit_code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace titan::cli {

// Where every client command finds Titan: --host/--port or TITAN_HOST/TITAN_PORT, default
// 127.0.0.1:9090 (a broker, or a store answering HELLO itself).
struct Target {
  std::string host = "127.0.0.1";
  int port = 9090;
  int timeout_ms = 10000;
  std::string credentials;  // --credentials / TITAN_CREDENTIALS (security/client_security.h finds one)
};

// Nodes: serve in this process until SIGINT/SIGTERM. (`titan store get|set` are clients of TitanStore.)
void AddStoreCommand(CLI::App& app, const Target& target, int* exit_code);
void AddBrokerCommand(CLI::App& app, int* exit_code);
void AddWorkerCommand(CLI::App& app, const Target& target, int* exit_code);
// --cpus, --memory, --gpus: a worker's capacity for requests (negative, the default: detected). `titan
// worker` and `titan up` (which passes them to its workers).
void AddCapacityOptions(CLI::App* cmd, double* cpus, int64_t* memory_mb, int64_t* gpus);
// `titan up`: store, broker and workers as child processes of this one.
void AddUpCommand(CLI::App& app, int* exit_code);
// A node's --log-format (text or json; TITAN_LOG_FORMAT) into *format, and applying it to this process's
// logging before the node runs (`component`: "broker", "store", "worker"; base/log_format.h).
void AddLogFormatOption(CLI::App& node, std::string* format);
void ApplyLogFormat(const std::string& format, std::string_view component);

// `titan dashboard`: the operator dashboard (a Python web app) for the broker at --host/--port.
void AddDashboardCommand(CLI::App& app, const Target& target, int* exit_code);
// The dashboard's --metrics-token-file (`titan dashboard`, `titan up`) into *path.
void AddMetricsTokenOption(CLI::App& cmd, std::string* path);

// `titan mcp`: the Model Context Protocol server (a Python app) for the broker at --host/--port.
void AddMcpCommand(CLI::App& app, const Target& target, int* exit_code);

// `titan keys init|add|list|revoke`: the keys folder of a data directory (no node needed).
void AddKeysCommand(CLI::App& app, int* exit_code);

// Clients of a store or a broker.
void AddKvCommand(CLI::App& app, const Target& target, int* exit_code);
// `script_args`: the words after `--` on the command line, passed to the script (app.h).
void AddRunCommand(CLI::App& app, const Target& target, const std::vector<std::string>& script_args,
                   int* exit_code);
void AddStatusCommand(CLI::App& app, const Target& target, int* exit_code);
void AddJobsCommand(CLI::App& app, const Target& target, int* exit_code);
void AddStatsCommand(CLI::App& app, const Target& target, int* exit_code);  // stats, json
void AddAuditCommand(CLI::App& app, const Target& target, int* exit_code);  // the audit log (admins)
// A node's --audit-retention-days (0 to 36500) into *days; `context` starts its help ("with --audit-writes:
// ").
void AddAuditRetentionOption(CLI::App& node, int64_t* days, const std::string& context = "");
void AddStopCommands(CLI::App& app, const Target& target, int* exit_code);  // stop, cancel, delete, shutdown
void AddLogsCommand(CLI::App& app, const Target& target, int* exit_code);
void AddTailCommand(CLI::App& app, const Target& target, int* exit_code);
// Pipelines, DAGs, agent runs, gates and schedules.
void AddSubmitCommand(CLI::App& app, const Target& target, int* exit_code);
void AddDagCommands(CLI::App& app, const Target& target,
                    int* exit_code);  // dags, dag (ID or DAG string), dag-cancel, dag-rerun
void AddRunCommands(CLI::App& app, const Target& target, int* exit_code);   // runs, run-status
void AddGateCommands(CLI::App& app, const Target& target, int* exit_code);  // approve, reject
// schedule add|rm|enable|disable, schedules
void AddScheduleCommands(CLI::App& app, const Target& target, int* exit_code);
// volume create|list|rm
void AddVolumeCommands(CLI::App& app, const Target& target, int* exit_code);
// Artifacts: upload, deploy-script, artifacts [get|rm].
void AddArtifactCommands(CLI::App& app, const Target& target, int* exit_code);
// Services: deploy (and `deploy Worker.jar PORT`, a new worker), services, restart.
void AddServiceCommands(CLI::App& app, const Target& target, const std::vector<std::string>& script_args,
                        int* exit_code);

// Exit codes shared by client commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitNotFound = 1;  // `kv get` of a missing key, `kv cas` that did not swap, unknown job
inline constexpr int kExitUsage = 2;
inline constexpr int kExitRefused = 3;   // the node answered ERROR
inline constexpr int kExitNoAnswer = 4;  // nothing answered in time
inline constexpr int kExitFailed = 5;    // the job ended FAILED, DEAD or CANCELLED (`run --wait`), or the
                                         // DAG FAILED or was CANCELLED (`submit --wait`)
inline constexpr int kExitIo = 6;        // a local file could not be read or written (artifact transfers)

}  // namespace titan::cli
