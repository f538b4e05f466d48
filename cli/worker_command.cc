// `titan worker`: run a worker in this process, registered with the broker at --host/--port (built
// only when worker/ provides titan_worker).
#include <iostream>

#include "cli/commands.h"
#ifdef TITAN_HAVE_WORKER
#include "worker/worker.h"
#include "worker/worker_reaper.h"
#endif

namespace titan::cli {

void AddCapacityOptions(CLI::App* cmd, double* cpus, int64_t* memory_mb, int64_t* gpus) {
  cmd->add_option("--cpus", *cpus,
                  "cores this worker offers jobs' cpu requests (default: the CPUs online; 1.5 is allowed)")
      ->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--memory", *memory_mb,
                  "MB of memory this worker offers jobs' memory requests (default: MemTotal)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option(
         "--gpus", *gpus,
         "GPUs this worker offers (default: found by `nvidia-smi -L` or /dev/nvidia<N>); with any, it has "
         "the capability GPU")
      ->check(CLI::Range(int64_t{0}, int64_t{4096}));
}

#ifdef TITAN_HAVE_WORKER
namespace {

// How it runs jobs, its timings, and what identifies it to the broker beyond its name.
void AddTimingOptions(CLI::App* cmd, worker::WorkerOptions* o) {
  cmd->add_option("--executor", o->executor, "process: run jobs; noop: complete them at once (benchmarks)")
      ->check(CLI::IsMember({"process", "noop"}))
      ->capture_default_str();
  cmd->add_option("--heartbeat-ms", o->heartbeat_ms, "heartbeat interval")
      ->check(CLI::Range(50, 600000))
      ->capture_default_str();
  cmd->add_option("--kill-grace-ms", o->kill_grace_ms, "SIGTERM -> SIGKILL grace when stopping a job")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  cmd->add_option("--drain-grace-ms", o->drain_grace_ms,
                  "on SIGTERM or `titan shutdown`: how long running jobs may take to finish")
      ->check(CLI::Range(0, 86400000))
      ->capture_default_str();
  cmd->add_flag(
      "--cgroups,!--no-cgroups", o->cgroups,
      "--no-cgroups: run jobs without cgroups (only cpu_cores is then enforced; docs/job-control.md)");
  cmd->add_flag(
      "--cold-python", o->cold_python,
      "start every .py job in a fresh interpreter instead of forking a warm one (docs/job-control.md)");
  cmd->add_option("--parent", o->parent, "set by a worker that started this one (auto-scaling)");
  cmd->add_option("--address-port", o->address_port,
                  "the port this worker is known by, as the original's workers were (`titan stats` shows it, "
                  "`titan shutdown HOST PORT` finds it); nothing listens on it")
      ->check(CLI::Range(1, 65535));
}

}  // namespace

void AddWorkerCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto options = std::make_shared<worker::WorkerOptions>();
  CLI::App* cmd =
      app.add_subcommand("worker", "Run a worker that takes jobs from the broker at --host/--port");
  cmd->add_option("--name", options->name, "worker name shown in `titan stats` (default: <hostname>-<pid>)");
  cmd->add_option("--slots", options->slots, "jobs run at once")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_option("--tag", options->tags, "a custom capability jobs can require (repeat for several)")
      ->take_all();
  cmd->add_option("--runtime", options->runtimes,
                  "NAME=PATH: a runtime jobs may name (repeat for several). PATH is an interpreter (it runs "
                  ".py scripts and the commands python/python3) or an environment's directory, such as a "
                  "venv (its bin/ first on the job's PATH, its python runs .py scripts)")
      ->take_all();
  cmd->add_option("--dir", options->dir, "data directory: job workspaces and the PID registry")
      ->capture_default_str();
  cmd->add_option("--shared-dir", options->shared_dir,
                  "folder DAG jobs run in and share files through (default: <parent of --dir>/"
                  "titan_workspace/shared, one per data folder, so local workers share it)");
  AddTimingOptions(cmd, options.get());
  AddCapacityOptions(cmd, &options->cpus, &options->memory_mb, &options->gpus);
  AddLogFormatOption(*cmd, &options->log_format);
  const Target* t = &target;
  cmd->callback([options, t, exit_code] {
    options->host = t->host;
    options->port = t->port;
    options->credentials = t->credentials;
    ApplyLogFormat(options->log_format, "worker");
    *exit_code = worker::RunWorker(*options);
  });
  // Started by each worker for itself (worker/worker_reaper.h); not for users, so not listed.
  auto reaper = std::make_shared<worker::ReaperOptions>();
  CLI::App* reap =
      app.add_subcommand("worker-reaper", "Ends a worker's jobs when the worker ends")->group("");
  reap->add_option("--worker-pid", reaper->worker_pid)->required();
  reap->add_option("--worker-start", reaper->worker_start)->required();
  reap->add_option("--registry", reaper->registry)->required();
  reap->add_option("--cgroup-dir", reaper->cgroup_dirs);
  reap->add_option("--lock", reaper->lock);
  reap->add_flag("--watch-runs", reaper->watch_runs);
  reap->add_option("--worker-name", reaper->worker_name);
  reap->add_option("--broker-host", reaper->broker_host);
  reap->add_option("--broker-port", reaper->broker_port);
  reap->add_option("--heartbeat-ms", reaper->heartbeat_ms);
  reap->add_option("--credentials", reaper->credentials);
  AddLogFormatOption(*reap, &reaper->log_format);
  reap->callback([reaper, exit_code] {
    ApplyLogFormat(reaper->log_format, "worker-reaper");
    *exit_code = worker::RunReaper(*reaper);
  });
}
#else
void AddWorkerCommand(CLI::App& app, const Target&, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("worker", "Run a worker (not built into this titan)");
  cmd->allow_extras();
  cmd->callback([exit_code] {
    std::cerr << "titan: this titan was built without the worker (worker/ had no titan_worker library); "
                 "rebuild with `cmake --build build --target titan` once it exists\n";
    *exit_code = kExitUsage;
  });
}
#endif

}  // namespace titan::cli
