// Job state names and the JobInfo rendering.
#include "job.h"

namespace titan::broker {

namespace {
constexpr const char* kNames[] = {"PENDING", "BLOCKED",   "SCHEDULED", "QUEUED", "RUNNING",
                                  "COMPLETED", "FAILED", "CANCELLED", "DEAD",   "SKIPPED"};
}

const char* StateName(JobState s) { return kNames[static_cast<int>(s)]; }

std::optional<JobState> StateFromName(std::string_view name) {
  for (int i = 0; i < static_cast<int>(std::size(kNames)); ++i) {
    if (name == kNames[i]) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

bool IsFinal(JobState s) {
  return s == JobState::kCompleted || s == JobState::kFailed || s == JobState::kCancelled || s == JobState::kDead ||
         s == JobState::kSkipped;
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
                 {"attempt", Datum(job.attempt)},
                 {"parents", Datum(std::move(parents))},
                 {"submitted_ms", Datum(job.submitted_ms)}};
  if (!job.worker.empty()) m.emplace_back("worker", Datum(Text{job.worker}));
  if (job.exit_code) m.emplace_back("exit_code", Datum(*job.exit_code));
  if (!job.reason.empty()) m.emplace_back("reason", Datum(Text{job.reason}));
  if (job.started_ms) m.emplace_back("started_ms", Datum(job.started_ms));
  if (job.finished_ms) m.emplace_back("finished_ms", Datum(job.finished_ms));
  if (!job.dag.empty()) m.emplace_back("dag", Datum(Text{job.dag}));
  return Datum(std::move(m));
}

}  // namespace titan::broker
