// WorkerEdge: the worker's OS edge — job processes (StartJob), their output pipes and the log chunks
// for the broker, services' readiness probes, child workers, the PID registry and the file cache.
// It carries out the WorkerCore's process and file commands and reports what the OS did: exits,
// drained output, probe results, child workers that ended. It decides nothing about jobs.
// Owned by the worker loop; one thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "artifacts/blob_store.h"
#include "worker/broker_link.h"
#include "worker/child_workers.h"
#include "worker/file_fetch.h"
#include "worker/job_limits.h"
#include "worker/machine_probe.h"
#include "worker/pid_registry.h"
#include "worker/running_job.h"

namespace titan::worker {

// Something the OS edge saw, for the WorkerCore.
struct Observed {
  enum class Kind { kExit, kOutputDone, kProbe, kChildExit };
  Kind kind;
  std::string id;              // the job; kChildExit: the child worker's name
  exec::ExitStatus status;     // kExit, kChildExit
  bool passed = false;         // kProbe
  std::string detail;          // kProbe: why it failed
  bool log_truncated = false;  // kOutputDone: the job's log file could not take all of its output
  RunUsage usage;              // kExit: what the run used (its cgroups' counters as its leader exited)
};

class WorkerEdge {
 public:
  WorkerEdge(std::string name, JobContext ctx, exec::PidRegistry registry, artifacts::BlobStore cache,
             ChildWorkers children, MachineProbe machine);

  // This machine now, for a heartbeat (machine_probe.h). Never blocks.
  MachineSample SampleMachine(int64_t now) { return machine_.Sample(now); }

  // Commands. Launch and Respawn return the leader's pid, or why the job could not start.
  Result<int64_t> Launch(const wire::JobAssignMsg& assign);
  Result<int64_t> Respawn(const std::string& id, int64_t restart);
  void Signal(const std::string& id, int sig);
  void AbandonOutput(const std::string& id);
  void EndRun(const std::string& id);  // reaps the leader (SIGKILLing what is left of its group and cgroup)
  void Forget(const std::string& id);
  // The broker recorded that run's result: the reaper stops watching it (reaper_runs.h).
  void Acked(const std::string& id, int64_t attempt);
  // How long the reaper lets this worker's runs finish should it die (RunsGraceMs).
  void RunsGrace(int64_t ms);
  // Appends `line` (and a newline) to job `id`'s log, as the worker's own words on stderr; failures logged.
  void Note(const std::string& id, const std::string& line);
  void StartProbe(const std::string& id, const ProbeRequest& request, int64_t now);
  void StopProbe(const std::string& id);
  Result<int64_t> SpawnChild(const ChildRequest& child);
  void SignalChildren(int sig);
  // Starts the fork server of the worker's own Python for jobs that set no startup variables, unless
  // --cold-python: a fresh worker's first .py jobs then run warm (ForkServers::Prewarm).
  void PrewarmPython();
  // The server key changed (titan keys rotate): every running job's credential gets it. Failures logged.
  void RekeyJobCredentials(const std::string& server_key);
  std::vector<Observed> KillChildren();  // blocks up to ~3 s per child: for shutdown only
  // Volumes (volumes.h): failures and notes logged (a job using a volume that could not be made fails
  // to start with the reason).
  void EnsureVolumes(const std::vector<wire::VolumeSpec>& volumes);
  void DeleteVolume(const std::string& name);
  // Keeps the worker's reaper: killed when the edge is destroyed (after the jobs), never reaped as an orphan.
  // `runs`: our end of the socket Launch hands each run's pidfd to it on (reaper_runs.h); invalid: none.
  void AdoptReaper(exec::ChildProcess reaper, exec::UniqueFd runs) {
    reaper_ = std::move(reaper);
    reaper_runs_ = std::move(runs);
    ctx_.runs_outlive_worker = reaper_runs_.valid();
  }

  // Files (FileFetch): true when in the cache, false when fetching, an error when it cannot be had.
  Result<bool> NeedFile(const std::string& sha256, int64_t size);
  // An ARTIFACT_DATA or ERROR answering the request `rid` (FileFetch::OnReply).
  std::vector<FileFetch::Ended> OnFetchReply(int64_t rid, const wire::Message& reply);
  void RestartFetches() { fetch_.Restart(); }
  void SendFetches(BrokerLink& link);

  // Each loop turn. Output is read only while it can go somewhere (`can_send`) or the job has ended.
  void AddPollItems(std::vector<zmq::pollitem_t>* items, bool can_send) const;
  void PumpOutput(bool can_send);
  void SendLogs(BrokerLink& link);
  std::vector<Observed> Observe(int64_t now);
  void ReapOrphans();
  // The earliest probe deadline; `now` when something is ready to be observed without a poll event.
  int64_t NextDue(int64_t now) const;

 private:
  RunningJob* Find(const std::string& id);
  void Pump(RunningJob& job);
  void SendLogs(RunningJob& job, BrokerLink& link);
  bool Owns(pid_t pid) const;  // a process one of our handles will reap (job, probe, child worker)
  bool PortFree(const wire::JobSpec& spec, std::string* reason) const;

  std::string name_;
  JobContext ctx_;
  exec::PidRegistry registry_;
  artifacts::BlobStore cache_;  // job files by content hash
  FileFetch fetch_;
  ChildWorkers children_;
  MachineProbe machine_;
  exec::ChildProcess reaper_;                                // declared before jobs_: destroyed after them
  exec::UniqueFd reaper_runs_;                               // AdoptReaper
  bool reaper_behind_logged_ = false;                        // a hand-over failed (logged once)
  std::unique_ptr<exec::ForkServers> fork_servers_;          // ctx_.fork_servers; destroyed after jobs_
  std::map<std::string, std::unique_ptr<RunningJob>> jobs_;  // by id
};

}  // namespace titan::worker
