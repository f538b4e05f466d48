// RunningJob: the OS side of one job on this worker — its process group, its captured output, the log
// chunks not yet sent to the broker, a service's readiness check in flight. StartJob prepares
// titan_workspace/jobs/<id>/ and spawns it. Owned by the OS edge (worker_edge.h); the decisions about
// it (timeouts, stops, restarts, results) are the WorkerCore's.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "artifacts/zip_archive.h"
#include "base/unique_fd.h"
#include "schemas/generated/messages.h"
#include "worker/child_process.h"
#include "worker/fork_server.h"
#include "worker/interpreter.h"
#include "worker/job_cgroup.h"
#include "worker/output_capture.h"
#include "worker/readiness_probe.h"
#include "worker/runtimes.h"

namespace titan::worker {

// What every job's process gets from the worker.
struct JobContext {
  std::string jobs_dir;    // titan_workspace/jobs
  std::string shared_dir;  // titan_workspace/shared
  std::string broker_host;
  int broker_port = 0;
  exec::Toolchain tools;
  std::vector<std::string> base_env;      // the worker's own environment
  artifacts::UnpackLimits unpack_limits;  // for archive jobs' projects
  // Where each job run gets its own cgroups (job_cgroup.h): <dir>/<job>-<attempt> in each of the
  // worker's directories, holding the job's limits. Absent: none can be made here; a job's processes
  // are then found by process group only, and only cpu_cores is enforced (sched_setaffinity).
  std::optional<exec::WorkerCgroups> cgroups;
  // With cgroups (v1): emptied job cgroups kept for the next job without limits (cgroup_pool.h). Shared,
  // so that it outlives every job's handle that gives a cgroup back to it.
  std::shared_ptr<exec::CgroupPool> cgroup_pool;
  std::map<std::string, exec::Runtime> runtimes;  // `titan worker --runtime NAME=PATH`, by name
  std::string volumes_dir;                        // <--dir>/volumes, absolute (worker/volumes.h)
  bool cold_python = false;                       // --cold-python: no warm starts
  exec::ForkServers* fork_servers = nullptr;      // warm interpreters (the edge's); null: none
  // The worker's reaper watches its run-once jobs (reaper_runs.h): their parent-death signal then covers
  // only their start (SpawnSpec::death_signal_until_exec), so a run can finish after its worker died.
  bool runs_outlive_worker = false;
};

struct LogChunk {
  exec::Stream stream;
  std::string bytes;  // whole lines
};

struct RunningJob {
  std::string id;
  int64_t attempt = 0;
  exec::SpawnSpec spawn;   // the job's command, directory, environment, cgroups and CPUs
  exec::JobLimits limits;  // its limits (JobSpec)
  // A .py job that may be forked from a warm interpreter (warm_start.h): that interpreter and the worker's
  // fork servers; empty/null: it starts cold. `warm`: its current run was forked.
  std::string warm_python;
  exec::ForkServers* fork_servers = nullptr;
  bool warm = false;
  const exec::WorkerCgroups* cgroups = nullptr;   // the worker's (JobContext::cgroups); null: none
  std::shared_ptr<exec::CgroupPool> cgroup_pool;  // JobContext::cgroup_pool; null: a fresh cgroup each run
  std::string cgroup_name;                        // <job>-<attempt> (a pooled cgroup is named pool-<n>)
  // The run's cgroup, when the worker has them: ended (every process in it killed) with the run. Declared
  // before `child`, so that it is ended after the child's group when the job is destroyed.
  exec::JobCgroup cgroup;
  // Set while a run is live; a service drops it after each exit (reaping the old leader at once).
  std::optional<exec::ChildProcess> child;
  std::unique_ptr<exec::JobLog> log;
  std::unique_ptr<exec::OutputCapture> out, err;
  std::optional<exec::ExitStatus> exit;  // the run's leader exited (reported to the core)
  std::vector<LogChunk> pending;         // output not yet sent as JOB_LOG
  int64_t next_seq = 0;
  bool output_abandoned = false;  // EOF never came (a process escaped the group with the pipes)
  bool output_reported = false;   // the run's drained output was reported to the core
  std::optional<Probe> probe;     // a service's readiness check in flight
  exec::UniqueFd shared_lock;     // a DAG job's hold on its script in the shared folder (shared_script.h)
  std::string credential_file;    // the job's own credential (TITAN_CREDENTIALS), if it has one

  bool output_done() const { return output_abandoned || ((!out || out->eof()) && (!err || err->eof())); }
};

// Puts the job's file (`content`: its path in the worker's cache) into jobs/<id>/ — the script
// itself, or for an archive job the unpacked project — chooses its interpreter and spawns it. A job
// of a DAG (JOB_ASSIGN.shared_workdir) runs in the shared folder with its script there (see
// shared_script.h). A job with a port gets PORT in its environment and "{port}" in its args replaced.
// Before the job starts its uploads are written into jobs/<id>/ and its work_dir made there (its cwd);
// a command job (JobSpec.command) has no file and runs its program with argv as given; a job naming a
// runtime runs with it (runtimes.h).
// Errors (bad args, missing interpreter, unwritable workspace, a refused archive, a runtime this worker
// lacks, an upload or work_dir outside the job directory) come back as a readable message for the
// JobResult.
Result<std::unique_ptr<RunningJob>> StartJob(const wire::JobAssignMsg& assign, const JobContext& ctx,
                                             const std::string& content);

// The environment of a .py job that sets nothing of its own, as far as its fork server's key goes
// (warm_start.h): the worker's, with what StartJob adds for every job. The worker's first fork server is
// started for it (ForkServers::Prewarm).
std::vector<std::string> PlainJobEnvironment(const JobContext& ctx);

// Spawns the job's command again after its last run ended (a service restart): a new process group
// and output captures, the same log (line numbers and JOB_LOG seq continue). Error: the spawn failed.
Status RespawnJob(RunningJob& job);

// Gives the job's own credential file `server_key` (after `titan keys rotate`: the job's keypair stays
// valid, and its SDK re-reads the file after a refused handshake). Errors name the file.
Status RekeyJobCredential(const RunningJob& job, const std::string& server_key);

// A file-system-safe name for a job id (letters, digits, '-', '_', '.'; the rest as %XX).
std::string SafeName(const std::string& id);

}  // namespace titan::worker
