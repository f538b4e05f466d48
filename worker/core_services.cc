// WorkerCore: SERVICE jobs — readiness events and probes, stopping an unhealthy run, restarts after a
// backoff or at once on request (SERVICE_RESPAWN), giving up on a crash loop, and stopping for good
// (stop, drain, superseded).
#include <spdlog/spdlog.h>

#include "base/log_format.h"
#include "worker/worker_core.h"

namespace titan::worker {

void WorkerCore::SendServiceStatus(const Run& run) {
  Send(run.service->StatusMessage(run.id, run.attempt).ToMessage());
}

void WorkerCore::ServiceStarted(Run& run, int64_t now) {
  const LogScope ids({{"job", run.id}});
  Service& service = *run.service;
  const bool ready = service.Started(static_cast<pid_t>(run.pid), now) == Service::Event::kReady;
  spdlog::info(
      "worker {}: service {} {} (pid {}){}", c_.name, run.id,
      service.restarts() == 0 ? "started" : "restarted (restart " + std::to_string(service.restarts()) + ")",
      run.pid, ready ? "; ready" : "");
  if (ready || service.restarts() > 0) SendServiceStatus(run);
}

void WorkerCore::TendService(Run& run, int64_t now) {
  if (std::optional<ProbeRequest> probe = run.service->ProbeDue(now)) {
    Emit(Command{.kind = Command::Kind::kStartProbe, .id = run.id, .probe = std::move(*probe)});
  }
  ServiceEvent(run, run.service->Tick(now), now);
}

void WorkerCore::OnProbe(const std::string& id, bool passed, const std::string& detail, Instant at) {
  const int64_t now = at.mono_ms;
  auto it = runs_.find(id);
  if (it == runs_.end() || !it->second.service || it->second.exit) return;
  ServiceEvent(it->second, it->second.service->ProbeEnded(passed, detail, now), now);
}

void WorkerCore::ServiceEvent(Run& run, Service::Event e, int64_t now) {
  const LogScope ids({{"job", run.id}});
  const Service& service = *run.service;
  switch (e) {
    case Service::Event::kNone:
      return;
    case Service::Event::kReady:
      spdlog::info("worker {}: service {} is ready", c_.name, run.id);
      return SendServiceStatus(run);
    case Service::Event::kUnhealthy:
      spdlog::warn("worker {}: service {}: {}{}; stopping it to restart it", c_.name, run.id,
                   service.reason(),
                   service.probe_detail().empty() ? "" : " (last: " + service.probe_detail() + ")");
      SendServiceStatus(run);
      Emit(Command{.kind = Command::Kind::kStopProbe, .id = run.id});
      Stop(run, service.reason(), false, now);
      return;
  }
}

bool WorkerCore::ServiceExited(Run& run, int64_t now) {
  const LogScope ids({{"job", run.id}});
  Service& service = *run.service;
  if (service.ended_for_good()) return false;
  const AfterExit after = service.Exited(run.exit.value_or(exec::ExitStatus{}), run.end_reason, now);
  run.kill_at = 0;  // the run's timers are over
  run.killed = false;
  run.drain_until = 0;
  spdlog::warn("worker {}: service {}: {}", c_.name, run.id, after.reason);
  if (after.give_up) {
    run.end_reason = after.reason;  // JOB_DONE: the last run's exit status, not cancelled
    return false;
  }
  SendServiceStatus(run);
  return true;
}

// The answer comes back through OnLaunched: the next run, or the end of the service.
void WorkerCore::RestartService(Run& run) {
  run.respawning = true;
  Emit(Command{.kind = Command::Kind::kRespawn,
               .id = run.id,
               .attempt = run.attempt,
               .number = run.service->restarts() + 1});
}

void WorkerCore::Respawn(const wire::ServiceRespawnMsg& respawn, int64_t now) {
  auto it = runs_.find(respawn.id);
  if (it == runs_.end() || it->second.attempt != respawn.attempt || !it->second.service ||
      it->second.fenced) {
    spdlog::warn("worker {}: not restarting service {} (attempt {}): it does not run here", c_.name,
                 respawn.id, respawn.attempt);
    return;
  }
  Run& run = it->second;
  // Its next process is being started already (a restart, or its first start): nothing to replace.
  if (run.respawning || (run.pid < 0 && !run.exit)) return;
  if (!run.service->RestartAsked(now)) return;  // ended for good: its JOB_DONE follows
  spdlog::info("worker {}: restarting service {} (pid {}): {}", c_.name, run.id, run.pid, respawn.reason);
  Emit(Command{.kind = Command::Kind::kNote,
               .id = run.id,
               .text = "titan: " + respawn.reason + ": stopping the service to start it again"});
  Emit(Command{.kind = Command::Kind::kStopProbe, .id = run.id});
  Stop(run, respawn.reason, /*by_cancel=*/false, now);  // nothing to do when it is stopping or has exited
}

void WorkerCore::EndService(Run& run, const std::string& reason, int64_t now) {
  const LogScope ids({{"job", run.id}});
  spdlog::info("worker {}: stopping service {} for good: {}", c_.name, run.id, reason);
  run.service->EndForGood();
  Emit(Command{.kind = Command::Kind::kStopProbe, .id = run.id});
  if (!run.exit && !run.kill_at) Stop(run, reason, true, now);
  run.cancelled = true;  // also when it was already stopping (unhealthy) or backing off
  run.end_reason = reason;
}

}  // namespace titan::worker
