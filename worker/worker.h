// The Titan worker: registers with a broker, runs the jobs it is given as processes (or completes
// them at once with the no-op executor, for control-plane benchmarks), streams their output, and
// reports how they ended. `titan worker` fills WorkerOptions from flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace titan::worker {

struct WorkerOptions {
  std::string host = "127.0.0.1";  // the broker's client address (TITAN_HOST)
  int port = 9090;                 // (TITAN_PORT); the worker port is learned from WELCOME
  std::string name;                // default: <hostname>-<pid>
  int slots = 4;                   // jobs run at once
  std::vector<std::string> tags;   // custom capabilities besides GENERAL / GPU / HIGH_MEM
  // --runtime NAME=PATH flags: runtimes jobs may name (worker/runtimes.h says what PATH may be).
  std::vector<std::string> runtimes;
  std::string dir = "titan-data/worker";  // holds titan_workspace/jobs/<id>/, the PID registry, the cache
  // The folder DAG jobs run in and share files through (TITAN_SHARED_DIR). Empty: the machine's
  // default, <parent of dir>/titan_workspace/shared, so the workers of one data folder (`titan up`)
  // share one. Workers on other machines share files through artifacts, not this folder.
  std::string shared_dir;
  std::string executor = "process";  // "process" or "noop" (completes jobs without running them)
  int heartbeat_ms = 1000;
  int kill_grace_ms = 5000;    // SIGTERM -> SIGKILL grace when stopping a job
  int drain_grace_ms = 30000;  // on SIGTERM / shutdown: how long running jobs may finish
  long high_mem_mb = 32768;    // HIGH_MEM when the machine has at least this much memory
  // Capacity for jobs' requests (docs/job-control.md); negative: detected (CPUs online, MemTotal, GPUs
  // from `nvidia-smi -L` or /dev/nvidia<N>). A worker with GPUs has the capability GPU.
  double cpus = -1;
  int64_t memory_mb = -1;
  int64_t gpus = -1;
  // false (--no-cgroups): jobs get no cgroups even where they could; of the limits only cpu_cores is
  // enforced (sched_setaffinity), and processes that call setsid escape a job's cleanup.
  bool cgroups = true;
  // true (--cold-python): every .py job starts a fresh interpreter; by default they are forked from a warm
  // one (worker/fork_server.h) unless the job asks for cold_start.
  bool cold_python = false;
  std::string parent;    // set by a worker that started this one (auto-scaling); sent in WORKER_READY
  int address_port = 0;  // the port this worker is known by (the original's worker address; nothing
                         // listens on it); 0: none. Sent as WORKER_READY.port
  // A credential file (role worker) for a broker with keys (security/client_security.h finds one when
  // empty: TITAN_CREDENTIALS, the link `titan up` made); child workers get the same.
  std::string credentials;
  // --log-format: text or json (base/log_format.h); child workers and the reaper get the same.
  std::string log_format = "text";
};

// Serves until stopped. SIGTERM (or `titan shutdown`) drains: no new jobs, running ones get
// drain_grace_ms to finish, then are stopped; services are stopped at once and handed back to the
// broker; child workers (started on WORKER_SPAWN) get SIGTERM and are killed if still running after
// drain_grace_ms + kill_grace_ms. SIGINT, or a second signal, stops running jobs at once.
// Prints "READY worker <name>" once registered. Returns the process exit code.
int RunWorker(const WorkerOptions& options);

// The absolute shared folder of a worker with these options (WorkerOptions::shared_dir).
std::string SharedDirOf(const WorkerOptions& options);

}  // namespace titan::worker
