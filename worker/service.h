// Service: how this worker keeps one SERVICE job up across its process starts — when to probe its
// readiness, what a probe's result means, the restart-or-give-up decision after each exit
// (service_policy.h), and the SERVICE_STATUS it reports. Pure: it runs no probe and no process; the
// WorkerCore owns it and asks the OS edge to probe, stop and respawn. `now` is monotonic ms.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "schemas/generated/messages.h"
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
std::optional<ServiceSpec> ServiceSpecOf(const wire::JobSpec& job);

class Service {
 public:
  explicit Service(ServiceSpec spec);

  enum class Event { kNone, kReady, kUnhealthy };

  // A run was spawned (the first or a restart; a restart counts in restarts()). Returns kReady when
  // no probe applies (ready as soon as spawned).
  Event Started(pid_t pid, int64_t now);
  // The probe to start now, if one is due and none is in flight; the caller runs it and reports its
  // result with ProbeEnded (or drops it when StopProbing was called meanwhile).
  std::optional<ProbeRequest> ProbeDue(int64_t now);
  // The probe in flight ended. kReady: it became ready. kUnhealthy: it failed kUnhealthyAfter probes
  // in a row after being ready; probing has then stopped, the caller stops the group with reason(),
  // and that run's exit counts as a crash. A result arriving after StopProbing is ignored.
  Event ProbeEnded(bool passed, const std::string& detail, int64_t now);
  // kUnhealthy when the run was not ready kReadyTimeoutMs after its start (probing stops, as above).
  Event Tick(int64_t now);
  // The run ended and its output is drained. `stopped_because`: the worker's reason if it stopped the
  // run as unhealthy, else empty. Counts the crash and decides: restart at restart_at(), or give up.
  AfterExit Exited(const exec::ExitStatus& status, const std::string& stopped_because, int64_t now);
  // An operator asked for a restart (SERVICE_RESPAWN): the run is not ready from now, probing stops, and
  // its exit (the caller stops it) is no crash: Exited restarts it at once. Between runs (backing off),
  // the restart is due at once. Returns false, changing nothing, when the service has ended for good.
  bool RestartAsked(int64_t now);
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

  bool probing() const { return probing_; }
  bool probe_in_flight() const { return in_flight_; }
  // When the next probe, the readiness deadline or the restart is due; INT64_MAX when nothing is
  // timed. A probe in flight is timed by whoever runs it.
  int64_t NextDue() const;

  // SERVICE_STATUS {id, attempt, ready, restarts, pid, reason?}.
  wire::ServiceStatusMsg StatusMessage(const std::string& id, int64_t attempt) const;

 private:
  void LoseReadiness(int64_t now);

  ServiceSpec spec_;
  ProbeKind kind_;
  pid_t pid_ = -1;
  bool started_ = false;    // a run was started before (the next Started is a restart)
  bool probing_ = false;    // the run is up and watched
  bool in_flight_ = false;  // a probe was handed out and has not ended
  bool ready_ = false;
  bool backing_off_ = false;
  bool final_ = false;
  bool restart_asked_ = false;  // the next exit is a restart an operator asked for, not a crash
  int64_t started_at_ = 0;
  int64_t ready_since_ = 0;
  int64_t next_probe_at_ = 0;
  int64_t restart_at_ = 0;
  int failures_ = 0;  // failed probes in a row while ready
  int crashes_ = 0;   // exits in a row (forgiven after kStableMs of readiness)
  int restarts_ = 0;
  std::string reason_;
  std::string probe_detail_;
};

}  // namespace titan::worker
