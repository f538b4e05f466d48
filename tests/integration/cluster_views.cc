// The cluster fixture's views of broker replies (JobView, StatsView), decoded through the generated
// structs, and the JobSpec tests submit.
#include "schemas/generated/messages.h"
#include "tests/integration/cluster.h"

namespace titan::testing {

using wire::Datum;
using wire::Text;

namespace {

wire::List TextList(const std::vector<std::string>& v) {
  wire::List out;
  for (const auto& s : v) out.push_back(Datum(Text{s}));
  return out;
}

// "JOB_INFO MALFORMED <why>" for a reply that is not the expected one (an ERROR names its code).
std::string Unexpected(const wire::Message& reply, const Status& status) {
  return std::string(wire::NameOf(reply.type)) + " " +
         std::string(wire::ErrorCodeName(wire::ErrorCodeOf(status.code()))) + " " + status.message();
}

}  // namespace

JobView ViewOf(const wire::Message& reply) {
  JobView v;
  Result<wire::JobInfoMsg> info = wire::JobInfoMsg::From(reply);
  if (!info.ok()) {
    v.error = Unexpected(reply, info.status());
    return v;
  }
  v.found = info->found;
  if (!v.found || !info->job) return v;
  const wire::JobInfo& job = *info->job;
  v.id = job.id;
  v.state = job.state;
  v.worker = job.worker.value_or("");
  v.reason = job.reason.value_or("");
  v.attempt = job.attempt;
  v.priority = job.priority;
  v.submitted_ms = job.submitted_ms;
  v.started_ms = job.started_ms.value_or(0);
  v.finished_ms = job.finished_ms.value_or(0);
  v.exit_code = job.exit_code;
  v.port = job.port.value_or(0);
  v.restarts = job.restarts.value_or(0);
  v.ready = job.ready.value_or(false);
  return v;
}

StatsView StatsOf(const wire::Message& reply) {
  StatsView s;
  Result<wire::StatsMsg> stats = wire::StatsMsg::From(reply);
  if (!stats.ok()) {
    s.error = Unexpected(reply, stats.status());
    return s;
  }
  s.pending = stats->pending;
  s.blocked = stats->blocked;
  s.scheduled = stats->scheduled;
  s.queued = stats->queued;
  s.running = stats->running;
  s.unsatisfiable = stats->unsatisfiable;
  s.completed = stats->completed;
  s.failed = stats->failed;
  s.malformed_from_workers = stats->malformed_from_workers.value_or(0);
  for (const wire::WorkerInfo& w : stats->workers) {
    s.workers.push_back(
        WorkerView{w.name, w.state, w.parent.value_or(""), w.slots, w.busy, w.capabilities, w.running});
  }
  return s;
}

Deadline In(std::chrono::milliseconds ms) { return std::chrono::steady_clock::now() + ms; }

int64_t MillisLeft(Deadline d) {
  return std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::milliseconds>(d - std::chrono::steady_clock::now()).count());
}

Datum JobSpec::ToDatum() const {
  wire::Map m = {{"id", Datum(Text{id})}, {"file", Datum(Text{file})}};
  if (!args.empty()) m.emplace_back("args", Datum(Text{args}));
  if (priority) m.emplace_back("priority", Datum(*priority));
  if (delay_ms) m.emplace_back("delay_ms", Datum(*delay_ms));
  if (!requirement.empty()) m.emplace_back("requirement", Datum(Text{requirement}));
  if (affinity) m.emplace_back("affinity", Datum(*affinity));
  if (!parents.empty()) m.emplace_back("parents", Datum(TextList(parents)));
  if (retries) m.emplace_back("retries", Datum(*retries));
  if (timeout_ms) m.emplace_back("timeout_ms", Datum(*timeout_ms));
  if (!env.empty()) m.emplace_back("env", Datum(TextList(env)));
  for (const auto& kv : extra) m.push_back(kv);
  return Datum(std::move(m));
}

bool JobView::final() const {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "DEAD" ||
         state == "SKIPPED";
}

std::string JobView::Render() const {
  if (!error.empty()) return "error: " + error;
  if (!found) return "not found";
  std::string out = id + " " + state + " attempt=" + std::to_string(attempt);
  if (!worker.empty()) out += " worker=" + worker;
  if (exit_code) out += " exit=" + std::to_string(*exit_code);
  if (!reason.empty()) out += " reason=" + reason;
  return out;
}

const WorkerView* StatsView::Worker(const std::string& name) const {
  for (const auto& w : workers) {
    if (w.name == name) return &w;
  }
  return nullptr;
}

}  // namespace titan::testing
