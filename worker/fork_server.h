// ForkServer: a warm Python interpreter (`python -m titan_sdk._fork_server`, titan_sdk imported) that
// starts .py jobs by forking, so they skip the interpreter's start. The job is re-parented to the worker
// (a child subreaper) before its pid is reported, so the worker waits for, signals and reaps it like a
// job it spawned (ChildProcess). ForkServers keeps one server per interpreter and startup environment.
// The protocol with the Python side is described in sdk/python/titan_sdk/_fork_server.py.
// Owned by the worker's loop; one thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "worker/child_process.h"

namespace titan::exec {

class ForkServer {
 public:
  enum class State { kStarting, kReady, kFailed };

  // Starts the server with `env` (ServerEnvironment), its output appended to `log`. Never waits for
  // it: it says READY once titan_sdk is imported (Poll). Error: the spawn failed.
  static Result<ForkServer> Start(const std::string& python, const std::vector<std::string>& env,
                                  const std::string& log);

  // Reads what the server said since, without blocking: READY, or why it cannot serve (kFailed, with
  // failure(); `import_failed()` when its interpreter cannot import titan_sdk).
  State Poll();
  // Starts a job: sends the request with `fds` and waits up to `timeout` for the job's pid (a fork
  // takes about a millisecond). Only in kReady. The job runs its code only after this returned its
  // pid (a "go" pipe), so a failed launch leaves nothing running the job. A server that times out,
  // dies or answers nonsense is killed (kFailed); an error the server reports leaves it serving.
  Result<pid_t> Launch(const SpawnSpec& spec, const LaunchFds& fds, std::chrono::milliseconds timeout);

  pid_t pid() const { return process_.pid(); }
  const std::string& failure() const { return failure_; }
  bool import_failed() const { return import_failed_; }

 private:
  ForkServer(ChildProcess process, UniqueFd ctl, std::string log)
      : process_(std::move(process)), ctl_(std::move(ctl)), log_(std::move(log)) {}
  void Fail(std::string why);  // kills the server
  // The server closed its socket before it was ready: it ended. Why, from its log: an interpreter
  // without titan_sdk (python -m fails before the server's own code runs) is import_failed().
  void Ended();

  ChildProcess process_;  // killed (its group: the server and any intermediate) when this ends
  UniqueFd ctl_;          // our end of the control socket (SOCK_SEQPACKET)
  std::string log_;       // where its output goes
  State state_ = State::kStarting;
  std::string failure_;
  bool import_failed_ = false;
};

// The worker's fork servers: started lazily, one per ServerKey, at most kMaxServers; a server that
// failed is replaced on the next job (after kMaxFailedStarts failed starts in a row an interpreter
// stays cold); one that cannot import titan_sdk is not retried. Destroying this kills them all.
class ForkServers {
 public:
  static constexpr size_t kMaxServers = 4;
  static constexpr int kMaxFailedStarts = 3;
  static constexpr std::chrono::milliseconds kLaunchTimeout{3000};

  // Server logs go to `log_dir`/fork-server-<n>.log.
  explicit ForkServers(std::string log_dir) : log_dir_(std::move(log_dir)) {}

  // Spawns `spec` (argv: python script.py args...) forked from a ready server of `python` for its
  // environment. An error means "start it cold": no server is ready yet (this call starts one), the
  // interpreter cannot import titan_sdk, or the launch failed; the reason is logged (once where it
  // will not change).
  Result<ChildProcess> Spawn(const std::string& python, const SpawnSpec& spec);
  // Starts the server that jobs of `python` with environment `env` will be forked from, before any such
  // job arrives (a worker's default interpreter, at its start), so that a first burst of .py jobs runs
  // warm. Does nothing when that server exists or kMaxServers do; a failed start is logged and counts
  // as one of kMaxFailedStarts.
  void Prewarm(const std::string& python, const std::vector<std::string>& env);

  bool Owns(pid_t pid) const;       // a server's process (never reaped as an orphan)
  std::vector<pid_t> Pids() const;  // the servers' processes, running or not yet reaped

 private:
  struct Entry {
    std::optional<ForkServer> server;
    int failed_starts = 0;
    bool given_up = false;
  };
  Entry& EntryFor(const std::string& key);
  // Starts `e`'s server for `env`; an error (logged) when it cannot, or after kMaxFailedStarts (given up).
  Status StartServer(Entry& e, const std::string& python, const std::vector<std::string>& env);

  std::string log_dir_;
  int started_ = 0;
  std::map<std::string, Entry> servers_;  // by ServerKey
};

}  // namespace titan::exec
