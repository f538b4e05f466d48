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

namespace {

constexpr int64_t kMaxWaitS = int64_t{100} * 365 * 24 * 3600;  // a gate waits at most a century

bool ReadText(const wire::Datum& v, std::string* out) {
  if (!v.is_value()) return false;
  *out = std::string(v.bytes());
  return true;
}

bool ReadInt(const wire::Datum& v, int64_t* out) {
  const auto* i = std::get_if<int64_t>(&v.v);
  if (i != nullptr) *out = *i;
  return i != nullptr;
}

bool ReadFlag(const wire::Datum& v, bool* out) {
  const auto* b = std::get_if<bool>(&v.v);
  if (b != nullptr) *out = *b;
  return b != nullptr;
}

// A string field that says whether something is `what` ("kind": "GATE", "job_type": "SERVICE").
bool ReadIs(const wire::Datum& v, std::string_view what, bool* out) {
  *out = v.is_value() && v.bytes() == what;
  return v.is_value();
}

bool ReadTexts(const wire::Datum& v, std::vector<std::string>* out) {
  const auto* list = std::get_if<wire::List>(&v.v);
  if (list == nullptr) return false;
  out->clear();
  for (const auto& item : *list) {
    if (!item.is_value()) return false;
    out->emplace_back(item.bytes());
  }
  return true;
}

// The JobSpec fields the broker reads, each with the type it must have and where it goes.
struct SpecField {
  const char* name;
  const char* type;
  bool (*read)(const wire::Datum& v, Job& job);
};
constexpr SpecField kSpecFields[] = {
    {"file", "a string", [](const wire::Datum& v, Job& j) { return ReadText(v, &j.file); }},
    {"requirement", "a string", [](const wire::Datum& v, Job& j) { return ReadText(v, &j.requirement); }},
    {"priority", "an integer", [](const wire::Datum& v, Job& j) { return ReadInt(v, &j.priority); }},
    {"delay_ms", "an integer", [](const wire::Datum& v, Job& j) { return ReadInt(v, &j.delay_ms); }},
    {"retries", "an integer", [](const wire::Datum& v, Job& j) { return ReadInt(v, &j.retries); }},
    {"affinity", "a boolean", [](const wire::Datum& v, Job& j) { return ReadFlag(v, &j.affinity); }},
    {"kind", "a string", [](const wire::Datum& v, Job& j) { return ReadIs(v, "GATE", &j.gate); }},
    {"message", "a string", [](const wire::Datum& v, Job& j) { return ReadText(v, &j.message); }},
    {"max_wait_s", "an integer",
     [](const wire::Datum& v, Job& j) {
       int64_t s = 0;
       if (!ReadInt(v, &s)) return false;
       j.max_wait_ms = std::clamp<int64_t>(s, 0, kMaxWaitS) * 1000;
       return true;
     }},
    // normalized at submission: "SERVICE" or absent
    {"job_type", "a string", [](const wire::Datum& v, Job& j) { return ReadIs(v, "SERVICE", &j.service); }},
    {"port", "an integer", [](const wire::Datum& v, Job& j) { return ReadInt(v, &j.port); }},
    {"spawned_by", "a string", [](const wire::Datum& v, Job& j) { return ReadText(v, &j.spawned_by); }},
    {"parents", "a list of strings", [](const wire::Datum& v, Job& j) { return ReadTexts(v, &j.parents); }},
};

}  // namespace

Status ApplySpec(Job& job) {
  for (const auto& [k, v] : job.spec) {
    if (v.is_nil()) continue;
    for (const SpecField& f : kSpecFields) {
      if (k != f.name) continue;
      if (!f.read(v, job)) return Status::Invalid("spec field '" + k + "' is not " + f.type);
      break;
    }
  }
  std::transform(job.requirement.begin(), job.requirement.end(), job.requirement.begin(), ::toupper);
  if (job.requirement.empty()) job.requirement = "GENERAL";
  return Status::Ok();
}

}  // namespace titan::broker
