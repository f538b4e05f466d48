// What `titan run` sends: the JOB_SUBMIT for one script, built from its flags. Pure functions (no
// file or socket access), so argument handling is tested without a broker.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/limit_options.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// A job file travels inside one message; larger files belong in artifacts.
inline constexpr size_t kMaxJobFileBytes = 3 * 1024 * 1024;

struct RunArgs {
  std::string file;               // path of the script on this machine
  std::vector<std::string> args;  // words passed to the script
  std::string id;                 // empty: DefaultJobId
  std::string requirement;        // empty: the broker's default (GENERAL)
  std::optional<int64_t> priority, delay_ms, retries, timeout_ms;
  bool affinity = false;
  std::vector<std::string> env;         // NAME=value
  std::vector<std::string> secret_env;  // NAME=value, or NAME: its value from this process's environment
  bool wait = false;
  bool archive = false;                 // file is "<project>.zip/<entry>", the project deployed in perm_files
  std::string job_type;                 // empty: RUN_PAYLOAD; SERVICE for `titan deploy`
  int64_t port = 0;                     // SERVICE: the port it listens on
  std::string health_cmd;               // SERVICE: exit 0 means healthy
  std::optional<int64_t> max_restarts;  // SERVICE: crashes in a row before it is FAILED
  std::string on_worker_lost;           // empty: the broker's default (requeue); "fail": never run twice
  LimitArgs limits;                     // --max-memory, --max-cpu, --cpu-cores, --max-iobps, --max-processes
  double cpu = 0;                       // requests (cli/requests.h): cores, MB, GPUs; 0: none
  int64_t memory_mb = 0, gpus = 0;
  // What it runs and gets (docs/job-control.md). With `command`, no file is sent: `args` are its argv.
  std::string command;
  std::string work_dir;
  std::string runtime;
  std::vector<std::string> volumes;   // NAME:/path
  std::vector<wire::Upload> uploads;  // read from --upload LOCAL[:PATH]
  bool cold_start = false;            // a .py job: a fresh interpreter, not a fork of the worker's warm one
};

// "<file stem>-<8 hex digits of random>": "etl.py" with 0x1a2b3c4d -> "etl-1a2b3c4d".
std::string DefaultJobId(std::string_view path, uint32_t random);

// Words joined into one string the worker splits back the way a POSIX shell would (no expansion):
// {"a b", "it's"} -> "'a b' 'it'\''s'".
std::string ShellJoin(const std::vector<std::string>& words);

// Empty when every --env entry is NAME=value with a non-empty NAME; else what is wrong with the first bad
// one.
std::string CheckEnv(const std::vector<std::string>& env);

// --secret-env entries made NAME=value: a bare NAME takes its value from `lookup` (getenv), so a secret
// need not appear on a command line. Empty when every entry resolved; else what is wrong with the first
// bad one, naming it by its NAME only (a value is never echoed).
std::string ResolveSecretEnv(std::vector<std::string>* entries,
                             const std::function<const char*(const char*)>& lookup = ::getenv);

// `titan deploy FILE [PORT] [REQUIREMENT]`: the words after FILE (before `--`) as the original's
// positional port and requirement, into *args. A first word that is a whole number is the port (1..65535)
// unless `port_given` (--port); the next word is the requirement unless `requirement_given`. Returns ""
// when every word found its place, else what is wrong with the first that did not.
std::string ApplyDeployWords(const std::vector<std::string>& words, bool port_given, bool requirement_given,
                             RunArgs* args);

// A submission's idempotency token (JOB_SUBMIT.token): 32 random hex digits, made once per submission and
// sent with each try of it, so a broker that accepted it already answers again and submits nothing.
std::string NewSubmissionToken();

// JOB_SUBMIT with one JobSpec, and a token of its own (NewSubmissionToken). A command job (args.command)
// sends no file and passes args.args as argv unchanged. With `content` (a script read on this machine) the
// file is its basename and travels as a FileBlob; without, args.file names a deployed artifact the broker
// resolves.
wire::Message BuildSubmit(const RunArgs& args, const std::string& job_id, std::optional<std::string> content);

}  // namespace titan::cli
