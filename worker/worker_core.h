// WorkerCore: all of the worker's protocol state and decisions, with no sockets, no clock and no
// system calls — the worker's BrokerCore. The loop (worker_node.cc) feeds it the broker's messages,
// what the OS edge observed (process exits, output drained, files fetched, probe results, child
// workers ended) and the time; it leaves commands (spawn, signal, send, fetch, probe, ...) in an
// outbox that the loop and the OS edge (worker_edge.h) execute in order. Time comes as an Instant
// (both clocks); every deadline here is relative and uses its monotonic part only, so setting the
// wall clock fires no timeout and kills nothing. The worker stores and reports no wall time.
// Single-threaded: only the worker loop calls it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "schemas/generated/messages.h"
#include "worker/child_process.h"
#include "worker/child_workers.h"
#include "worker/job_limits.h"
#include "worker/machine_stats.h"
#include "worker/service.h"

namespace titan::worker {

// DISCONNECTs within this long of the WORKER_READY that answered one ask nothing more.
inline constexpr int64_t kReregisterQuietMs = 1000;
// How long output may keep flowing after a job's leader exited before the worker stops waiting.
inline constexpr int64_t kOutputDrainMs = 2000;
// Beyond a child worker's own grace (drain + kill), before its parent SIGKILLs it.
inline constexpr int64_t kChildExitMarginMs = 1000;

struct WorkerCoreConfig {
  std::string name;  // the worker's name
  std::string host;  // this machine's hostname (WORKER_READY.host)
  int64_t pid = 0;   // the worker's process id (WORKER_READY.pid)
  int slots = 4;
  std::vector<std::string> capabilities;
  std::vector<std::string>
      runtimes;  // the runtime names it offers (`--runtime NAME=PATH`; WORKER_READY.runtimes)
  std::vector<wire::RuntimeInfo>
      runtime_info;         // what it measured of each runtime (WORKER_READY.runtime_info)
  std::string volumes_dir;  // where its volumes' directories are (WORKER_READY.volumes_dir)
  std::string parent;       // WORKER_READY.parent when set
  int address_port = 0;     // WORKER_READY.port when > 0
  std::string broker;       // "host:port", for messages
  bool noop = false;        // complete jobs at once without running them
  int64_t kill_grace_ms = 5000;
  int64_t drain_grace_ms = 30000;
  // The limits it enforces (WORKER_READY.controls: memory cpu cpuset io pids) and how ("cgroup v2",
  // "cgroup v1", "rlimit"; empty: not said). A job asking for another limit is refused, never run unlimited.
  std::vector<std::string> controls;
  std::string limits_via;
  // Capacity for requests (WORKER_READY): thousandths of cores, MB, and the GPUs' device indices (their
  // count is the GPU capacity; jobs get them in CUDA_VISIBLE_DEVICES, core_gpus.cc).
  int64_t cpu_milli = 0;
  int64_t memory_mb = 0;
  std::vector<int64_t> gpus;
};

// One thing for the loop or the OS edge to do. Which fields are set depends on `kind`.
struct Command {
  enum class Kind {
    kSend,            // `msg` to the broker, after every earlier kSend (queued while the socket is full)
    kFetch,           // get file `sha256` (`size` bytes) into the cache; answer: OnFile
    kLaunch,          // start the assignment `assign` (its file is in the cache); answer: OnLaunched
    kRespawn,         // start service `id` again (restart number `number`); answer: OnLaunched
    kSignal,          // send signal `number` to job `id`'s process group
    kAbandonOutput,   // stop waiting for EOF on job `id`'s pipes (a process escaped the group with them)
    kEndRun,          // job `id`'s run is over: reap its leader, drop it from the PID registry
    kForget,          // job `id` is over here: drop its log, output and shared-folder lock
    kStartProbe,      // run readiness check `probe` for service `id`; answer: OnProbe
    kStopProbe,       // drop service `id`'s check in flight, if any
    kSpawnChild,      // start child worker `child`; answer: OnChildStarted (or nothing on failure)
    kSignalChildren,  // send signal `number` to every child worker
    kKillChildren,    // SIGKILL the child workers still running; answer: OnChildExit for each
    kReregister,      // send WORKER_READY again on the current connection; send nothing else until welcomed
    kRenewRegistration,  // send WORKER_READY again; what follows goes out behind it (a lapsed lease)
    kNewSession,         // registered anew: drop queued sends (WORKER_READY said it all), restart fetches
    kAnnounce,           // print "READY worker <name>" (the first registration only)
    kNote,               // append the line `text` to job `id`'s log (and its stream to the broker)
    kEnsureVolumes,      // make the directories of `volumes` when missing (VOLUME_ENSURE)
    kDeleteVolume,       // delete volume `id`'s directory and data (VOLUME_DELETE)
    kAcked,              // the broker recorded run `id`/`attempt`'s result: the reaper stops watching it
    kRunsGrace,          // registered: if this worker dies, the reaper lets its runs finish for `number` ms
  };
  Kind kind;
  std::string id;
  int64_t attempt = 0;
  int64_t number = 0;  // a signal (kSignal*), the restart (kRespawn), the size (kFetch), ms (kRunsGrace)
  wire::Message msg;   // kSend: built from its struct (schemas/generated/messages.h)
  wire::JobAssignMsg assign;              // kLaunch
  std::string sha256;                     // kFetch
  ProbeRequest probe;                     // kStartProbe
  ChildRequest child;                     // kSpawnChild
  std::string text;                       // kNote
  std::vector<wire::VolumeSpec> volumes;  // kEnsureVolumes
};

// "send JOB_DONE {...}", "launch a/1", "signal a TERM", ...: for logs and tests.
std::string Render(const Command& c);

// The JobResult of a run that never started (`cancelled`: stopped before it could).
wire::JobResult FailedStart(const std::string& id, int64_t attempt, const std::string& reason,
                            bool cancelled = false);

class WorkerCore {
 public:
  explicit WorkerCore(WorkerCoreConfig config);

  // A message from the broker (not the ARTIFACT_DATA / ERROR replies of file fetches: see OnFile).
  // Decoded here into its struct; one that does not decode is logged and dropped.
  void OnMessage(const wire::Message& msg, Instant now);
  // Call first in each loop turn. A turn that begins more than the lease after the last one (this
  // worker was stopped or starved) fences: the broker may have given its runs away meanwhile.
  void BeginTurn(Instant now);
  // The broker was heard from (any message, heartbeats included): the lease starts again. OnMessage
  // counts as contact too.
  void OnContact(Instant now);
  // SIGTERM drains; SIGINT, or a second signal, also stops every job at once.
  void OnSignal(int sig, Instant now);
  // Fires due timers (timeouts, kill grace, restarts, probes, drain deadlines) and ends the runs
  // that are over (exited, output drained). Call once per loop turn after the turn's events.
  void OnTick(Instant now);

  // Answers to commands, and what the OS edge saw.
  void OnFile(const std::string& sha256, const Status& status);
  void OnLaunched(const std::string& id, int64_t attempt, const Result<int64_t>& pid, Instant now);
  // `usage`: what the run used, as its cgroups counted (its memory limit's kills make the reason).
  void OnExit(const std::string& id, const exec::ExitStatus& status, Instant now, const RunUsage& usage = {});
  // Both pipes at EOF (or abandoned), all sent. `log_truncated`: its job.log misses some of it (a full
  // disk), which its JobResult reports.
  void OnOutputDone(const std::string& id, bool log_truncated = false);
  void OnProbe(const std::string& id, bool passed, const std::string& detail, Instant now);
  void OnChildStarted(const std::string& name);
  void OnChildExit(const std::string& name);

  std::vector<Command> TakeCommands();
  // When OnTick next has something to do, in monotonic ms (at most 1 s away).
  int64_t NextDue(Instant now) const;
  // The WORKER_READY to register with: running jobs (and assignments waiting for files; not the fenced
  // runs, which are being killed) and the results the broker has not acknowledged. Each call is a new
  // registration (WORKER_READY.session one higher); send what it returns.
  wire::WorkerReadyMsg ReadyMessage();
  int64_t Busy() const;  // jobs held: running, backing off between restarts, waiting for a file
  // The HEARTBEAT to send now: slots in use, draining, and this machine as `sample` shows it (the CPU
  // share is over the time since the previous call's sample).
  wire::HeartbeatMsg Heartbeat(const MachineSample& sample);
  bool draining() const { return draining_; }
  bool done() const { return done_; }  // drained: the loop may end

  // For tests: "a/1:running b/2:stopping(kill@3000) c/1:exited+output s/1:backoff(restart@1500) f/1:fenced"
  std::string RenderJobs() const;
  // For tests: "0:a 1:b", each GPU held and the job holding it.
  std::string RenderGpus() const;

 private:
  struct Run {
    std::string id;
    int64_t attempt = 0;
    int64_t pid = -1;         // the current run's leader; -1 while launching or between runs
    int64_t timeout_ms = 0;   // JobSpec.timeout_ms (run-once jobs); 0: none
    int64_t timeout_at = 0;   // 0: no timeout
    int64_t kill_at = 0;      // SIGKILL due after a SIGTERM; 0: not stopping
    bool killed = false;      // the SIGKILL went out
    bool respawning = false;  // a service's kRespawn went out, not yet answered
    int64_t drain_until = 0;  // after the exit: wait for EOF until then
    bool output_done = false;
    bool abandoned = false;      // kAbandonOutput went out
    bool cancelled = false;      // ended by JOB_CANCEL (or a stopped service)
    bool fenced = false;         // killed here: no contact with the broker for longer than the lease
    bool log_truncated = false;  // its job.log could not take all of its output (any of its runs)
    std::string end_reason;      // set when the worker ended it (timeout, cancel, shutdown)
    int64_t max_memory = 0;      // its memory limit, MB (JobSpec.max_memory)
    RunUsage usage;              // the last run's
    std::optional<exec::ExitStatus> exit;
    std::optional<Service> service;
  };

  // Assignments (worker_core.cc).
  void Assign(wire::JobAssignMsg assign, int64_t now);
  void Launch(const wire::JobAssignMsg& assign);
  void Cancel(const wire::JobCancelMsg& cancel, int64_t now);
  void Welcome(const wire::WorkerWelcomeMsg& welcome, int64_t now);
  void SpawnChild(const wire::WorkerSpawnMsg& spawn);
  void BeginDrain(const std::string& why, int64_t now);
  void StopAll(int64_t now);  // every job: SIGTERM now, SIGKILL after the kill grace
  void Report(wire::JobResult result);
  // JOB_ACK named run id/attempt: its result is forgotten, and the reaper told (kAcked) if it was held.
  void Acknowledged(const std::string& id, int64_t attempt);
  void Send(wire::Message msg);
  void Emit(Command c);

  // Fencing (core_runs.cc): past the lease without the broker, every run is killed (SIGKILL, a line in
  // its log) and reported fenced, so that the broker's requeue never races a live copy.
  void CheckLease(int64_t now);
  void Fence(int64_t silent_ms, int64_t now);
  void FenceRun(Run& run, const std::string& line, int64_t now);

  // Runs (core_runs.cc).
  void Stop(Run& run, std::string reason, bool by_cancel, int64_t now);
  void TendTimers(Run& run, int64_t now);
  // Ends the run when it exited and its output is drained: true when the job is over here.
  bool Finish(Run& run, int64_t now);
  wire::JobResult ResultOf(const Run& run) const;
  void TendChildren(int64_t now);

  // Services (core_services.cc).
  void ServiceStarted(Run& run, int64_t now);
  void TendService(Run& run, int64_t now);
  void ServiceEvent(Run& run, Service::Event e, int64_t now);
  bool ServiceExited(Run& run, int64_t now);  // true: it restarts later
  void RestartService(Run& run);
  void EndService(Run& run, const std::string& reason, int64_t now);
  // SERVICE_RESPAWN: stop the run's process (SIGTERM, the kill grace, SIGKILL) and start it again at once.
  void Respawn(const wire::ServiceRespawnMsg& respawn, int64_t now);
  void SendServiceStatus(const Run& run);

  // GPUs (core_gpus.cc). Gives the assignment's job the devices it requests (CUDA_VISIBLE_DEVICES in its
  // env); false when too few are free now (nothing taken).
  bool TakeGpus(wire::JobAssignMsg& assign);
  // The job's run is over here: its devices are free, and assignments waiting for devices launch.
  void FreeGpus(const std::string& id);

  WorkerCoreConfig c_;
  std::map<std::string, Run> runs_;  // by job id; services too
  // Assignments not launched yet: sha256 -> those waiting for that file; kAwaitingGpus -> those waiting
  // for GPUs to be freed. Either way the broker counts them as running here (WORKER_READY).
  std::map<std::string, std::vector<wire::JobAssignMsg>> awaiting_file_;
  static constexpr const char* kAwaitingGpus = "gpus";  // never a sha256 (64 hex digits)
  std::map<int64_t, std::string> gpu_holder_;           // GPU device index -> the job holding it
  std::map<std::string, wire::JobAssignMsg> deferred_;  // until the earlier run ends
  std::map<std::pair<std::string, int64_t>, wire::JobResult> unacked_;  // results until JOB_ACK
  // The lease epoch each assignment not yet reported came under (JOB_ASSIGN.epoch): its JobRef in
  // WORKER_READY and its JobResult carry it back, so a broker can refuse reports from an older epoch.
  std::map<std::pair<std::string, int64_t>, int64_t> epochs_;
  std::optional<int64_t> EpochOf(const std::string& id, int64_t attempt) const;
  std::set<std::string> children_;  // child workers running, by name
  int64_t children_kill_at_ = 0;    // draining: child workers still running then get SIGKILL
  bool announced_ = false;
  bool draining_ = false;
  int64_t drain_deadline_ = 0;
  bool done_ = false;
  // Fencing. lease_ms_: from WORKER_WELCOME (0: the broker sets none, no fencing); monotonic times.
  int64_t lease_ms_ = 0;
  int64_t last_contact_ = 0;  // the broker last heard from
  // DISCONNECT answered with a WORKER_READY at this time and no WORKER_WELCOME since (-1: none): the
  // DISCONNECTs a restarted broker sends for each message the worker queued while it was down ask once.
  int64_t reregistered_at_ = -1;
  int64_t last_turn_ = 0;  // the last BeginTurn
  // Registrations so far (WORKER_READY.session). lapsed_: the lease ran out since the last WORKER_WELCOME,
  // so the broker may have given this worker's runs, and the assignments it sent meanwhile, to others:
  // assignments are refused (reported fenced, unstarted) until the WORKER_WELCOME that answers a
  // registration made after the lapse (session above lapsed_session_).
  int64_t session_ = 0;
  bool lapsed_ = false;
  int64_t lapsed_session_ = 0;
  std::optional<CpuTimes> last_cpu_;  // the CPU times of the last heartbeat's sample
  std::vector<Command> out_;
};

}  // namespace titan::worker
