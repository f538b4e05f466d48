// The worker's side of SERVICE jobs: the port check before the first start, readiness events,
// restarts after a backoff, giving up on a crash loop, and stopping for good (stop, drain).
// Methods of Worker (worker_node.h); called from its loop only.
#include <signal.h>
#include <spdlog/spdlog.h>

#include "worker/worker_node.h"

namespace titan::worker {

bool Worker::ServiceMayStart(const wire::Map& spec, const std::string& id, int64_t attempt) {
  const std::optional<ServiceSpec> service = ServiceSpecOf(spec);
  if (!service) return true;
  if (draining_) {  // assigned as the drain began: it would never end here
    Report(FailedStart(id, attempt, "worker " + name_ + " is draining; service handed back",
                       /*cancelled=*/true));
    return false;
  }
  if (service->port <= 0) return true;
  const Result<bool> in_use = PortInUse(service->port);
  if (!in_use.ok()) {  // cannot tell (e.g. a privileged port): let the service try
    spdlog::warn("worker {}: service {}: cannot check port {}: {}", name_, id, service->port,
                 in_use.message());
    return true;
  }
  if (!in_use.value()) return true;
  const std::string reason = "port " + std::to_string(service->port) + " is already in use on worker " +
                             name_ + "; choose another port or stop what holds it";
  spdlog::warn("worker {}: service {} not started: {}", name_, id, reason);
  Report(FailedStart(id, attempt, reason));
  return false;
}

void Worker::SendServiceStatus(const RunningJob& job) {
  SendControl(job.service->StatusMessage(job.id, job.attempt));
}

void Worker::ServiceStarted(RunningJob& job, int64_t now) {
  Service& service = *job.service;
  const bool ready = service.Started(job.child->pid(), now) == Service::Event::kReady;
  spdlog::info(
      "worker {}: service {} {} (pid {}){}", name_, job.id,
      service.restarts() == 0 ? "started" : "restarted (restart " + std::to_string(service.restarts()) + ")",
      job.child->pid(), ready ? "; ready" : "");
  if (ready || service.restarts() > 0) SendServiceStatus(job);
}

void Worker::TendService(RunningJob& job, int64_t now) {
  Service& service = *job.service;
  switch (service.Tick(now)) {
    case Service::Event::kNone:
      return;
    case Service::Event::kReady:
      spdlog::info("worker {}: service {} is ready", name_, job.id);
      return SendServiceStatus(job);
    case Service::Event::kUnhealthy:
      spdlog::warn("worker {}: service {}: {}{}; stopping it to restart it", name_, job.id, service.reason(),
                   service.probe_detail().empty() ? "" : " (last: " + service.probe_detail() + ")");
      SendServiceStatus(job);
      job.Stop(now, o_.kill_grace_ms, service.reason(), false);
      return;
  }
}

bool Worker::ServiceExited(RunningJob& job, int64_t now) {
  Service& service = *job.service;
  if (service.ended_for_good()) return false;
  const AfterExit after = service.Exited(job.exit.value_or(exec::ExitStatus{}), job.end_reason, now);
  job.child.reset();  // reap the old leader now; the exit status stays in job.exit
  job.kill_at = 0;    // the run's timers are over
  job.drain_until = 0;
  spdlog::warn("worker {}: service {}: {}", name_, job.id, after.reason);
  if (after.give_up) {
    job.end_reason = after.reason;  // JOB_DONE: the last run's exit status, not cancelled
    return false;
  }
  SendServiceStatus(job);
  return true;
}

void Worker::RestartService(RunningJob& job, int64_t now) {
  Service& service = *job.service;
  const std::string banner =
      "--- titan: service restarted (restart " + std::to_string(service.restarts() + 1) + ") ---\n";
  if (auto st = job.log->Append(exec::Stream::kStdout, banner); !st.ok()) {
    spdlog::warn("worker: job {} output: {}", job.id, st.message());
  }
  if (auto st = RespawnJob(job); !st.ok()) {
    spdlog::error("worker {}: service {} cannot be restarted: {}", name_, job.id, st.message());
    service.EndForGood();  // no further attempt; reported by Reap with this reason
    job.exit = exec::ExitStatus{};
    job.end_reason = "cannot restart the service: " + st.message();
    return;
  }
  if (auto st = registry_.Add(job.child->pid()); !st.ok())
    spdlog::warn("worker: pid registry: {}", st.message());
  ServiceStarted(job, now);
}

void Worker::EndService(RunningJob& job, const std::string& reason, int64_t now) {
  spdlog::info("worker {}: stopping service {} for good: {}", name_, job.id, reason);
  job.service->EndForGood();
  if (!job.exit && !job.kill_at) job.Stop(now, o_.kill_grace_ms, reason, true);
  job.cancelled = true;  // also when it was already stopping (unhealthy) or backing off
  job.end_reason = reason;
}

void Worker::HandBackServices(int64_t now) {
  const std::string reason = "worker " + name_ + " is draining; service handed back";
  for (auto& [id, job] : jobs_) {
    if (!job->service || job->service->ended_for_good()) continue;
    EndService(*job, reason, now);
  }
}

}  // namespace titan::worker
