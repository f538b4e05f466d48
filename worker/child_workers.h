// ChildWorkers: the worker processes this worker started at the broker's request (auto-scaling,
// "Inception"). Each runs this same executable as `titan worker ... --parent <this worker>` in its own
// process group, with its output appended to <dir>/children/<name>.log and its data in
// <dir>/children/<name>/. Owned by the worker loop, which polls their exit descriptors and stops them
// (SIGTERM, then SIGKILL) when it stops itself, so that no child outlives its parent.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "worker/child_process.h"
#include "worker/readiness_probe.h"

namespace titan::worker {

// What every child worker inherits from its parent.
struct ChildWorkerTemplate {
  std::string exe;   // this executable (see SelfExe)
  std::string host;  // the broker's client address
  int port = 0;
  std::string parent;      // the parent's worker name
  std::string dir;         // the parent's data directory, absolute
  std::string shared_dir;  // the parent's shared folder: its children share it
  std::string executor;
  std::vector<std::string> tags;
  std::vector<std::string> runtimes;  // the parent's --runtime flags, NAME=PATH with PATH absolute
  std::string credentials;            // the parent's credential file, absolute; empty: none
  int heartbeat_ms = 0;
  int kill_grace_ms = 0;
  int drain_grace_ms = 0;
  std::string log_format = "text";  // the parent's --log-format
  bool cold_python = false;         // the parent's --cold-python
};

// What one WORKER_SPAWN asks for beyond the template.
struct ChildRequest {
  std::string name;
  int slots = 4;
  std::vector<std::string> tags;  // capabilities besides the parent's tags (`deploy Worker.jar PORT GPU`)
  int port = 0;                   // its address port (--address-port); 0: none
  bool manual = false;            // started by an operator, not by auto-scaling (logged; the broker decides)
  std::string reason;             // why the broker asked for it (logged)
};

// The command line of a child: `<exe> worker --host H --port P --name <name> --slots N
// --dir <dir>/children/<name> --shared-dir S --parent <parent> --executor E [--tag T]... (the parent's tags,
// then the request's) [--runtime NAME=PATH]... (the parent's) [--address-port PORT] --heartbeat-ms ...
// --kill-grace-ms ... --drain-grace-ms ...`.
std::vector<std::string> ChildWorkerArgv(const ChildWorkerTemplate& t, const ChildRequest& child);

// This executable's path (readlink /proc/self/exe), or "/proc/self/exe" itself when the file was
// replaced or removed since it started.
std::string SelfExe();

class ChildWorkers {
 public:
  ChildWorkers() = default;
  explicit ChildWorkers(ChildWorkerTemplate t) : t_(std::move(t)) {}

  // Starts the child; returns its pid (= its process group). Errors: a child of that name runs
  // already, the name has characters other than letters, digits, '.', '-', '_' (or starts with '.'),
  // its directory or log cannot be created, the spawn failed.
  Result<pid_t> Spawn(const ChildRequest& child);

  struct Exit {
    std::string name;
    pid_t pid = -1;
    exec::ExitStatus status;
  };
  // Children that have exited since the last call, now reaped and forgotten. Never blocks.
  std::vector<Exit> Reap();
  // Sends `sig` to every child: SIGTERM drains it; a second SIGTERM, or SIGINT, stops its jobs now.
  void Signal(int sig);
  // SIGKILLs every child still running, reaps it, then ends the job process groups it left behind
  // (its PID registry, and its own children's, recursively). Blocks up to ~3 s per child: for
  // shutdown only. Returns the children it killed.
  std::vector<Exit> KillAll();

  bool Owns(pid_t pid) const;
  std::vector<PollFd> PollFds() const;  // each child's exit descriptor
  bool empty() const { return children_.empty(); }
  size_t size() const { return children_.size(); }
  std::string DirOf(const std::string& name) const { return t_.dir + "/children/" + name; }
  std::string LogOf(const std::string& name) const { return t_.dir + "/children/" + name + ".log"; }

 private:
  ChildWorkerTemplate t_;
  std::map<std::string, exec::ChildProcess> children_;  // by name
};

// For a worker starting up: ends what the child workers of its previous life left running. For each
// <children_dir>/<name>/ its PID registry is reaped (PidRegistry::ReapLeftovers), then its own
// children/, recursively. The child worker processes themselves must already be ended (they are in
// the parent's registry). Blocks; returns how many process groups it ended.
int EndLeftoverChildren(const std::string& children_dir);

}  // namespace titan::worker
