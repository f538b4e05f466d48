// Service: how this worker keeps one SERVICE job up across its process starts — readiness probes on
// a timer, the restart-or-give-up decision after each exit (service_policy.h), and the SERVICE_STATUS
// it reports. Lives in the job's RunningJob; owned and driven by the worker loop, which does the
// process work it asks for (stop the group, respawn, PID registry). Time comes in as `now` (epoch ms).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schemas/cpp/codec.h"
#include "worker/readiness_probe.h"
#include "worker/service_policy.h"

namespace titan::worker {

// The JobSpec fields of a service.
struct ServiceSpec {
  int port = 0;            // > 0: checked free before the first start, probed by TCP without health_cmd
  std::string health_cmd;  // run with `bash -c`; exit 0 means healthy
  int max_restarts = kDefaultMaxRestarts;
};
// The service fields of a JobSpec; nullopt for a run-once job (job_type absent or not "SERVICE").
std::optional<ServiceSpec> ServiceSpecOf(const wire::Map& job_spec);

class Service {
 public:
  // `cwd` and `env`: the job's directory and environment, for the health command.
  Service(ServiceSpec spec, std::string cwd, std::vector<std::string> env);

  enum class Event { kNone, kReady, kUnhealthy };

  // A run was spawned (the first or a restart; a restart counts in restarts()). Returns kReady when
  // no probe applies (ready as soon as spawned).
  Event Started(pid_t pid, int64_t now);
  // Drives the probes of the running process; call each loop turn (cheap, never blocks).
  // kReady: it became ready. kUnhealthy: it failed kUnhealthyAfter probes in a row after being ready,
  // or was not ready kReadyTimeoutMs after its start. Probing has then stopped; the caller stops the
  // group with reason(), and that run's exit counts as a crash.
  Event Tick(int64_t now);
  // The run ended and its output is drained. `stopped_because`: the worker's reason if it stopped the
  // run as unhealthy, else empty. Counts the crash and decides: restart at restart_at(), or give up.
  AfterExit Exited(const exec::ExitStatus& status, const std::string& stopped_because, int64_t now);
  // A deliberate stop (cancel, drain): no restart, no more probes.
  void EndForGood();
  // The run's process has exited (or is being stopped): drop any probe in flight. Idempotent.
  void StopProbing();

  bool ended_for_good() const { return final_; }
  bool backing_off() const { return backing_off_; }
  int64_t restart_at() const { return restart_at_; }
  bool ready() const { return ready_; }
  int restarts() const { return restarts_; }  // restarts of this attempt so far
  pid_t pid() const { return pid_; }          // the current run's (or, backing off, the last run's)
  // Why it is not ready: "starting", "health check failed 3 times", "exited with code 1; restarting
  // in 1000 ms", "crash loop: ..."; empty when ready.
  const std::string& reason() const { return reason_; }
  // The last failed probe's detail ("connect to 127.0.0.1:8080: Connection refused"), for logs.
  const std::string& probe_detail() const { return probe_detail_; }

  // When Tick (or the restart) is next due; INT64_MAX when nothing is timed.
  int64_t NextDue() const;
  std::vector<PollFd> PollFds() const;
  pid_t probe_pid() const { return probe_ ? probe_->pid() : -1; }

  // SERVICE_STATUS {id, attempt, ready, restarts, pid, reason?}.
  wire::Message StatusMessage(const std::string& id, int64_t attempt) const;

 private:
  Event Judge(Probe::State result, const std::string& detail, int64_t now);
  void StartProbe(int64_t now);
  void LoseReadiness(int64_t now);

  ServiceSpec spec_;
  ProbeKind kind_;
  std::string cwd_;
  std::vector<std::string> env_;
  pid_t pid_ = -1;
  bool started_ = false;  // a run was started before (the next Started is a restart)
  bool probing_ = false;  // the run is up and watched
  bool ready_ = false;
  bool backing_off_ = false;
  bool final_ = false;
  int64_t started_at_ = 0;
  int64_t ready_since_ = 0;
  int64_t next_probe_at_ = 0;
  int64_t restart_at_ = 0;
  int failures_ = 0;  // failed probes in a row while ready
  int crashes_ = 0;   // exits in a row (forgiven after kStableMs of readiness)
  int restarts_ = 0;
  std::string reason_;
  std::string probe_detail_;
  std::optional<Probe> probe_;
};

}  // namespace titan::worker
