// Service supervision: probe scheduling, readiness transitions, crash accounting, SERVICE_STATUS.
#include "worker/service.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace titan::worker {

std::optional<ServiceSpec> ServiceSpecOf(const wire::JobSpec& job) {
  if (job.job_type.value_or("") != "SERVICE") return std::nullopt;
  return ServiceSpec{.port = static_cast<int>(job.port.value_or(0)),
                     .health_cmd = job.health_cmd.value_or(""),
                     .max_restarts = static_cast<int>(job.max_restarts.value_or(kDefaultMaxRestarts))};
}

Service::Service(ServiceSpec spec)
    : spec_(std::move(spec)), kind_(ProbeKindFor(spec_.port, spec_.health_cmd)) {}

Service::Event Service::Started(pid_t pid, int64_t now) {
  if (started_) ++restarts_;
  started_ = true;
  pid_ = pid;
  started_at_ = now;
  backing_off_ = false;
  restart_at_ = 0;
  failures_ = 0;
  ready_ = false;
  if (kind_ == ProbeKind::kNone) {
    ready_ = true;
    ready_since_ = now;
    reason_.clear();
    return Event::kReady;
  }
  probing_ = true;
  next_probe_at_ = now + ProbeIntervalMs(kind_, false);
  reason_ = restarts_ == 0 ? "starting" : "starting (restart " + std::to_string(restarts_) + ")";
  return Event::kNone;
}

std::optional<ProbeRequest> Service::ProbeDue(int64_t now) {
  if (!probing_ || in_flight_ || now < next_probe_at_) return std::nullopt;
  in_flight_ = true;
  next_probe_at_ = now + ProbeIntervalMs(kind_, ready_);
  const bool command = kind_ == ProbeKind::kCommand;
  return ProbeRequest{kind_, spec_.port, spec_.health_cmd,
                      command ? kCommandProbeTimeoutMs : kConnectProbeTimeoutMs};
}

Service::Event Service::Tick(int64_t now) {
  if (!probing_ || ready_ || now - started_at_ < kReadyTimeoutMs) return Event::kNone;
  reason_ = "not ready within " + std::to_string(kReadyTimeoutMs / 1000) + " s of its start";
  StopProbing();
  return Event::kUnhealthy;
}

Service::Event Service::ProbeEnded(bool passed, const std::string& detail, int64_t now) {
  if (!in_flight_) return Event::kNone;
  in_flight_ = false;
  if (passed) {
    failures_ = 0;
    if (ready_) return Event::kNone;
    ready_ = true;
    ready_since_ = now;
    reason_.clear();
    next_probe_at_ = std::max(next_probe_at_, now + ProbeIntervalMs(kind_, true));
    return Event::kReady;
  }
  probe_detail_ = detail;
  if (!ready_ || ++failures_ < kUnhealthyAfter) return Event::kNone;  // not up yet, or not yet judged
  LoseReadiness(now);
  reason_ = "health check failed " + std::to_string(kUnhealthyAfter) + " times";
  StopProbing();
  return Event::kUnhealthy;
}

void Service::LoseReadiness(int64_t now) {
  if (ready_ && WasStable(ready_since_, now)) crashes_ = 0;
  ready_ = false;
}

void Service::StopProbing() {
  probing_ = false;
  in_flight_ = false;
}

AfterExit Service::Exited(const exec::ExitStatus& status, const std::string& stopped_because, int64_t now) {
  LoseReadiness(now);
  StopProbing();
  if (std::exchange(restart_asked_, false)) {  // stopped to be restarted: no crash, no backoff
    backing_off_ = true;
    restart_at_ = now;
    reason_ = "restarting (requested)";
    return AfterExit{.crashes = crashes_, .reason = "stopped to restart it, as requested; starting it again"};
  }
  AfterExit after = DecideAfterExit(crashes_, spec_.max_restarts, DescribeRunEnd(status, stopped_because));
  crashes_ = after.crashes;
  reason_ = after.reason;
  backing_off_ = !after.give_up;
  restart_at_ = after.give_up ? 0 : now + after.delay_ms;
  return after;
}

bool Service::RestartAsked(int64_t now) {
  if (final_) return false;
  LoseReadiness(now);
  StopProbing();
  reason_ = "restarting (requested)";
  if (backing_off_) {
    restart_at_ = now;
  } else {
    restart_asked_ = true;
  }
  return true;
}

void Service::EndForGood() {
  final_ = true;
  backing_off_ = false;
  ready_ = false;
  StopProbing();
}

int64_t Service::NextDue() const {
  int64_t due = std::numeric_limits<int64_t>::max();
  if (backing_off_) due = restart_at_;
  if (probing_) {
    if (!in_flight_) due = std::min(due, next_probe_at_);
    if (!ready_) due = std::min(due, started_at_ + kReadyTimeoutMs);
  }
  return due;
}

wire::ServiceStatusMsg Service::StatusMessage(const std::string& id, int64_t attempt) const {
  wire::ServiceStatusMsg m{.id = id, .attempt = attempt, .ready = ready_, .restarts = restarts_, .pid = pid_};
  if (!ready_ && !reason_.empty()) m.reason = reason_;
  return m;
}

}  // namespace titan::worker
