// Job state names and the JobInfo rendering.
#include "broker/job.h"

#include <algorithm>

#include "base/clock.h"

namespace titan::broker {

namespace {
constexpr const char* kNames[kStateCount] = {
    "PENDING",   "BLOCKED", "SCHEDULED", "QUEUED", "RUNNING", "WAITING_APPROVAL",
    "COMPLETED", "FAILED",  "CANCELLED", "DEAD",   "SKIPPED"};
}

const char* StateName(JobState s) { return kNames[static_cast<int>(s)]; }

std::optional<JobState> StateFromName(std::string_view name) {
  for (int i = 0; i < static_cast<int>(std::size(kNames)); ++i) {
    if (name == kNames[i]) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

namespace {

using S = JobState;
constexpr uint16_t Bit(S s) { return static_cast<uint16_t>(1u << static_cast<int>(s)); }
template <typename... T>
constexpr uint16_t Bits(T... s) {
  return (Bit(s) | ...);
}

// The legal steps out of each state, in the order of JobState. Which part of the broker takes each:
//   PENDING: Accept places a new job (blocked, delayed, queued, a gate opened, or skipped when a parent
//     already failed; a child still PENDING in its own submission is skipped with its parent).
//   BLOCKED: its parents completed (ReleaseChildren -> MakeReady), one did not (SkipDescendants), or
//     JOB_STOP.
//   SCHEDULED: its delay or retry backoff ended (timer), or JOB_STOP.
//   QUEUED: Dispatch assigns it, its returning worker still runs it (reconciliation), or JOB_STOP.
//   RUNNING: JOB_DONE (completed, failed, retried, dead, cancelled); its worker lost, back without it,
//     or never back after a restart (QUEUED, or DEAD after max_lost); a service whose worker drains
//     (QUEUED); JOB_STOP while its worker is gone (CANCELLED).
//   WAITING_APPROVAL: a gate approved (COMPLETED), rejected or expired (FAILED), or JOB_STOP.
constexpr uint16_t kLegal[kStateCount] = {
    /* PENDING */ Bits(S::kBlocked, S::kScheduled, S::kQueued, S::kWaitingApproval, S::kSkipped),
    /* BLOCKED */ Bits(S::kScheduled, S::kQueued, S::kWaitingApproval, S::kSkipped, S::kCancelled),
    /* SCHEDULED */ Bits(S::kQueued, S::kCancelled),
    /* QUEUED */ Bits(S::kRunning, S::kCancelled),
    /* RUNNING */
    Bits(S::kCompleted, S::kFailed, S::kDead, S::kCancelled, S::kScheduled, S::kQueued),
    /* WAITING_APPROVAL */ Bits(S::kCompleted, S::kFailed, S::kCancelled),
    /* COMPLETED */ 0,
    /* FAILED */ 0,
    /* CANCELLED */ 0,
    /* DEAD */ 0,
    /* SKIPPED */ 0,
};

}  // namespace

bool CanTransition(JobState from, JobState to) {
  const int f = static_cast<int>(from), t = static_cast<int>(to);
  if (f < 0 || f >= kStateCount || t < 0 || t >= kStateCount) return false;
  return (kLegal[f] & (1u << t)) != 0;
}

std::string RenderTransitions() {
  std::string out;
  for (int f = 0; f < kStateCount; ++f) {
    if (kLegal[f] == 0) continue;
    out += kNames[f];
    out += " ->";
    for (int t = 0; t < kStateCount; ++t) {
      if (CanTransition(static_cast<JobState>(f), static_cast<JobState>(t)))
        out += std::string(" ") + kNames[t];
    }
    out += "\n";
  }
  return out;
}

bool IsFinal(JobState s) {
  return s == JobState::kCompleted || s == JobState::kFailed || s == JobState::kCancelled ||
         s == JobState::kDead || s == JobState::kSkipped;
}

namespace {

// JobInfo's copies of the job-control fields of its JobSpec (docs/job-control.md): limits, requests,
// volumes, runtime, work_dir, command. All of them here, in one place.
void CopyJobControl(const wire::JobSpec& spec, wire::JobInfo* info) {
  info->max_memory = spec.max_memory;
  info->max_cpu = spec.max_cpu;
  info->cpu_cores = spec.cpu_cores;
  info->max_iobps = spec.max_iobps;
  info->max_processes = spec.max_processes;
  info->cpu_milli = spec.cpu_milli;
  info->memory_mb = spec.memory_mb;
  info->gpus = spec.gpus;
  info->volumes = spec.volumes;
  info->runtime = spec.runtime;
  info->work_dir = spec.work_dir;
  info->command = spec.command;
  info->argv = spec.argv;
}

}  // namespace

wire::JobInfo RenderJobInfo(const Job& job) {
  auto text = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); };
  auto time = [](int64_t ms) { return ms ? std::optional(ms) : std::nullopt; };
  wire::JobInfo info{.id = job.id,
                     .state = StateName(job.state),
                     .file = job.file,
                     .requirement = job.requirement,
                     .priority = job.priority,
                     .attempt = RunAttempt(job),
                     .parents = job.parents,
                     .worker = text(job.worker),
                     .exit_code = job.exit_code,
                     .reason = text(job.reason),
                     .submitted_ms = job.submitted_ms,
                     .started_ms = time(job.started_ms),
                     .finished_ms = time(job.finished_ms),
                     .dag = text(job.dag),
                     .run = job.run};
  if (job.log_truncated) info.log_truncated = true;
  info.usage = job.usage;
  CopyJobControl(job.spec, &info);
  if (job.spec.secret_env) {  // names only: a secret's value never leaves in a report
    info.secret_env.emplace();
    for (const std::string& e : *job.spec.secret_env)
      info.secret_env->push_back(e.substr(0, e.find('=')) + "=****");
  }
  info.env = job.spec.env;  // plain entries only, as submitted (Joblet's status shows them)
  // What it runs and gets (docs/job-control.md); never the uploads' content.
  info.command = job.spec.command;
  info.argv = job.spec.argv;
  info.runtime = job.spec.runtime;
  info.work_dir = job.spec.work_dir;
  info.volumes = job.spec.volumes;
  if (job.gate) {
    info.kind = "GATE";
    info.message = job.message;
    info.decided_by = text(job.decided_by);
    if (job.state == JobState::kWaitingApproval && job.started_ms) {
      info.expires_ms = AddMs(job.started_ms, job.max_wait_ms);
    }
  }
  if (job.service) {
    info.job_type = "SERVICE";
    info.port = job.port ? std::optional(job.port) : std::nullopt;
    info.restarts = job.restarts;
    info.ready = job.ready;
    if (job.state == JobState::kRunning) info.up_since_ms = time(job.up_since_ms);
  }
  return info;
}

std::string LogName(const std::string& id, int64_t run) {
  return run <= 1 ? id : id + "\x01run" + std::to_string(run);
}

std::string LogName(const Job& job) { return LogName(job.id, job.run); }

void ApplySpec(Job& job) {
  const wire::JobSpec& spec = job.spec;
  job.file = spec.file;
  job.requirement = spec.requirement.value_or("");
  std::transform(job.requirement.begin(), job.requirement.end(), job.requirement.begin(), ::toupper);
  if (job.requirement.empty()) job.requirement = "GENERAL";
  job.priority = spec.priority.value_or(1);
  job.delay_ms = spec.delay_ms.value_or(0);
  job.retries = spec.retries.value_or(0);
  job.affinity = spec.affinity.value_or(false);
  job.max_wait_ms = std::clamp<int64_t>(spec.max_wait_s.value_or(0), 0, kMaxWaitS) * 1000;
  job.service = spec.job_type == "SERVICE";  // made canonical at submission: "SERVICE" or absent
  job.port = spec.port.value_or(0);
  job.spawned_by = spec.spawned_by.value_or("");
  job.parents = spec.parents.value_or(std::vector<std::string>{});
}

}  // namespace titan::broker
