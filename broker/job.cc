// Job state names and the JobInfo rendering.
#include "broker/job.h"

#include <algorithm>

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

bool IsFinal(JobState s) {
  return s == JobState::kCompleted || s == JobState::kFailed || s == JobState::kCancelled ||
         s == JobState::kDead || s == JobState::kSkipped;
}

wire::Datum RenderJobInfo(const Job& job) {
  using wire::Datum;
  using wire::Text;
  wire::List parents;
  for (const auto& p : job.parents) parents.push_back(Datum(Text{p}));
  wire::Map m = {{"id", Datum(Text{job.id})},
                 {"state", Datum(Text{StateName(job.state)})},
                 {"file", Datum(Text{job.file})},
                 {"requirement", Datum(Text{job.requirement})},
                 {"priority", Datum(job.priority)},
                 {"attempt", Datum(RunAttempt(job))},
                 {"parents", Datum(std::move(parents))},
                 {"submitted_ms", Datum(job.submitted_ms)}};
  if (!job.worker.empty()) m.emplace_back("worker", Datum(Text{job.worker}));
  if (job.exit_code) m.emplace_back("exit_code", Datum(*job.exit_code));
  if (!job.reason.empty()) m.emplace_back("reason", Datum(Text{job.reason}));
  if (job.started_ms) m.emplace_back("started_ms", Datum(job.started_ms));
  if (job.finished_ms) m.emplace_back("finished_ms", Datum(job.finished_ms));
  if (!job.dag.empty()) m.emplace_back("dag", Datum(Text{job.dag}));
  if (job.gate) {
    m.emplace_back("kind", Datum(Text{"GATE"}));
    m.emplace_back("message", Datum(Text{job.message}));
    if (!job.decided_by.empty()) m.emplace_back("decided_by", Datum(Text{job.decided_by}));
  }
  if (job.service) {
    m.emplace_back("job_type", Datum(Text{"SERVICE"}));
    if (job.port) m.emplace_back("port", Datum(job.port));
    m.emplace_back("restarts", Datum(job.restarts));
    m.emplace_back("ready", Datum(job.ready));
    if (job.state == JobState::kRunning && job.up_since_ms)
      m.emplace_back("up_since_ms", Datum(job.up_since_ms));
  }
  m.emplace_back("run", Datum(job.run));
  return Datum(std::move(m));
}

std::string LogName(const Job& job) {
  return job.run <= 1 ? job.id : job.id + "\x01run" + std::to_string(job.run);
}

void ApplySpec(Job& job) {
  for (const auto& [k, v] : job.spec) {
    if (v.is_nil()) continue;
    if (k == "file") job.file = std::string(v.bytes());
    if (k == "requirement") job.requirement = std::string(v.bytes());
    if (k == "priority") job.priority = std::get<int64_t>(v.v);
    if (k == "delay_ms") job.delay_ms = std::get<int64_t>(v.v);
    if (k == "retries") job.retries = std::get<int64_t>(v.v);
    if (k == "affinity") job.affinity = std::get<bool>(v.v);
    if (k == "kind") job.gate = v.bytes() == "GATE";
    if (k == "message") job.message = std::string(v.bytes());
    if (k == "max_wait_s") job.max_wait_ms = std::get<int64_t>(v.v) * 1000;
    if (k == "job_type") job.service = v.bytes() == "SERVICE";  // normalized at submission
    if (k == "port") job.port = std::get<int64_t>(v.v);
    if (k == "spawned_by") job.spawned_by = std::string(v.bytes());
    if (k == "parents") {
      job.parents.clear();
      for (const auto& p : std::get<wire::List>(v.v)) job.parents.emplace_back(p.bytes());
    }
  }
  std::transform(job.requirement.begin(), job.requirement.end(), job.requirement.begin(), ::toupper);
  if (job.requirement.empty()) job.requirement = "GENERAL";
}

}  // namespace titan::broker
