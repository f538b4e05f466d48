// Text and JSON renderings of DagInfo, agent runs, ScheduleInfo and DAG progress.
#include "cli/dag_view.h"

#include <algorithm>

#include "base/exit_reason.h"

namespace titan::cli {
namespace {

using wire::Datum;
using wire::Map;

std::string JsonOpt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "null"; }
std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// How long the DAG took, or has been running.
std::string DagDuration(const DagView& d, int64_t now_ms) {
  return FormatDuration((d.finished_ms ? *d.finished_ms : now_ms) - d.submitted_ms);
}

std::string JobDuration(const JobView& j, int64_t now_ms) {
  if (!j.started_ms) return "-";
  return FormatDuration((j.finished_ms ? *j.finished_ms : now_ms) - *j.started_ms);
}

// Why a job is where it is, for the NOTE column: a gate's note, else the broker's reason for a job
// that is not running or completed.
std::string Note(const JobView& j) {
  if (j.kind == "GATE") return GateNote(j);
  if (j.state == "RUNNING" || j.state == "COMPLETED") return "";
  return j.reason.empty() && j.exit_code ? ExitReason(*j.exit_code, 0) : j.reason;
}

std::string DagJson(const DagView& d) {
  return "{\"id\":" + JsonString(d.id) + ",\"name\":" + JsonString(d.name) +
         ",\"state\":" + JsonString(d.state) +
         ",\"agent_run_id\":" + (d.agent_run_id.empty() ? "null" : JsonString(d.agent_run_id)) +
         ",\"jobs\":" + std::to_string(d.jobs) + ",\"done\":" + std::to_string(d.done) +
         ",\"failed\":" + std::to_string(d.failed) + ",\"submitted_ms\":" + std::to_string(d.submitted_ms) +
         ",\"finished_ms\":" + JsonOpt(d.finished_ms) + "}";
}

// The jobs of one DAG as rows under `header`; `start_of` gives the START cell.
std::string JobRows(const DagDetail& detail, int64_t now_ms, std::string_view indent) {
  std::vector<std::vector<std::string>> rows{{"ID", "STATE", "WORKER", "START", "DURATION", "NOTE"}};
  for (const JobView& j : detail.jobs) {
    const std::string start =
        j.started_ms ? "+" + FormatDuration(*j.started_ms - detail.dag.submitted_ms) : "-";
    rows.push_back({j.id, j.state, OrDash(j.worker), start, JobDuration(j, now_ms), Note(j)});
  }
  return RenderColumns(rows, indent);
}

bool IsFailedState(std::string_view s) { return IsFinalState(s) && s != "COMPLETED"; }

}  // namespace

DagView DagFromInfo(const wire::DagInfo& dag) {
  return DagView{.id = dag.id,
                 .name = dag.name,
                 .state = dag.state,
                 .agent_run_id = dag.agent_run_id.value_or(""),
                 .jobs = dag.jobs,
                 .done = dag.done,
                 .failed = dag.failed,
                 .submitted_ms = dag.submitted_ms,
                 .finished_ms = dag.finished_ms};
}

DagView DagFromDatum(const Datum& dag) {
  const Result<wire::DagInfo> info = wire::DagInfo::From(dag);
  return info.ok() ? DagFromInfo(info.value()) : DagView{};
}

ScheduleView ScheduleFromInfo(const wire::ScheduleInfo& s) {
  return ScheduleView{.name = s.name,
                      .cron = s.cron,
                      .jobs = s.jobs,
                      .next_ms = s.next_ms,
                      .last_ms = s.last_ms,
                      .enabled = s.enabled.value_or(true)};
}

DagDetail DagDetailFrom(const wire::DagInfoMsg& dag_info) {
  DagDetail d;
  if (dag_info.dag) d.dag = DagFromInfo(*dag_info.dag);
  for (const wire::JobInfo& j : dag_info.jobs) d.jobs.push_back(JobFromInfo(j));
  return d;
}

std::string RenderDagTable(const std::vector<DagView>& dags, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows{{"ID", "STATE", "DONE", "FAILED", "RUN", "AGE", "DURATION"}};
  for (const DagView& d : dags) {
    rows.push_back({d.id, d.state, std::to_string(d.done) + "/" + std::to_string(d.jobs),
                    std::to_string(d.failed), OrDash(d.agent_run_id), FormatDuration(now_ms - d.submitted_ms),
                    DagDuration(d, now_ms)});
  }
  return RenderColumns(rows);
}

std::string RenderDagsJson(const std::vector<DagView>& dags) {
  std::string out = "[";
  for (size_t i = 0; i < dags.size(); ++i) out += std::string(i ? ",\n " : "\n ") + DagJson(dags[i]);
  return out + (dags.empty() ? "]\n" : "\n]\n");
}

std::string RenderDagJson(const DagDetail& detail) {
  std::string jobs = RenderJobsJson(detail.jobs);
  jobs.pop_back();  // the trailing newline
  return "{\"dag\":" + DagJson(detail.dag) + ",\n\"jobs\":" + jobs + "}\n";
}

std::string RenderRunTable(const std::vector<DagView>& runs, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows{{"RUN", "STATE", "DONE", "FAILED", "AGE"}};
  for (const DagView& r : runs) {
    rows.push_back({r.id, r.state, std::to_string(r.done) + "/" + std::to_string(r.jobs),
                    std::to_string(r.failed), FormatDuration(now_ms - r.submitted_ms)});
  }
  return RenderColumns(rows);
}

std::string RenderDagDetail(const DagDetail& detail, int64_t now_ms) {
  const DagView& d = detail.dag;
  std::vector<std::vector<std::string>> fields{{"dag:", d.id}};
  if (d.name != d.id) fields.push_back({"name:", d.name});
  fields.push_back({"state:", d.state});
  if (!d.agent_run_id.empty()) fields.push_back({"run:", d.agent_run_id});
  fields.push_back({"jobs:", std::to_string(d.done) + "/" + std::to_string(d.jobs) + " done, " +
                                 std::to_string(d.failed) + " failed"});
  fields.push_back(
      {"submitted:", FormatTime(d.submitted_ms) + " (" + FormatDuration(now_ms - d.submitted_ms) + " ago)"});
  if (d.finished_ms) fields.push_back({"finished:", FormatTime(*d.finished_ms)});
  fields.push_back({d.finished_ms ? "took:" : "running:", DagDuration(d, now_ms)});
  std::string out;
  for (const auto& f : fields) out += f[0] + std::string(12 - f[0].size(), ' ') + f[1] + '\n';
  return out + '\n' + JobRows(detail, now_ms, "");
}

std::string RenderRunStatus(const DagView& run, const std::vector<DagDetail>& dags, int64_t now_ms) {
  std::string out = "run " + run.id + ": " + run.state + ", " + std::to_string(run.done) + "/" +
                    std::to_string(run.jobs) + " jobs done, " + std::to_string(run.failed) + " failed, " +
                    std::to_string(dags.size()) + (dags.size() == 1 ? " DAG" : " DAGs") + ", started " +
                    FormatDuration(now_ms - run.submitted_ms) + " ago\n";
  for (const DagDetail& d : dags) {
    std::vector<std::vector<std::string>> rows{{"JOB", "STATE", "WORKER", "DURATION", "NOTE"}};
    for (const JobView& j : d.jobs)
      rows.push_back({j.id, j.state, OrDash(j.worker), JobDuration(j, now_ms), Note(j)});
    out += "\ndag " + d.dag.id + ": " + d.dag.state + ", " + std::to_string(d.dag.done) + "/" +
           std::to_string(d.dag.jobs) + " done, " + DagDuration(d.dag, now_ms) + "\n" +
           RenderColumns(rows, "  ");
  }
  return out;
}

std::string RenderScheduleTable(const std::vector<ScheduleView>& schedules, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows{{"NAME", "CRON (UTC)", "JOBS", "NEXT", "LAST"}};
  for (const ScheduleView& s : schedules) {
    std::string next =
        s.next_ms > 0 ? FormatTime(s.next_ms) + " (in " + FormatDuration(s.next_ms - now_ms) + ")" : "never";
    if (!s.enabled) next = "disabled";
    const std::string last =
        s.last_ms ? FormatTime(*s.last_ms) + " (" + FormatDuration(now_ms - *s.last_ms) + " ago)" : "-";
    rows.push_back({s.name, s.cron, std::to_string(s.jobs), next, last});
  }
  return RenderColumns(rows);
}

std::string RenderProgress(const std::vector<JobView>& jobs) {
  int64_t done = 0, failed = 0;
  std::vector<std::string> running, gates;
  const JobView* first_waiting = nullptr;
  for (const JobView& j : jobs) {
    done += IsFinalState(j.state);
    failed += IsFailedState(j.state);
    if (j.state == "RUNNING") running.push_back(j.id);
    if (j.state == "WAITING_APPROVAL") gates.push_back(j.id + " awaits approval");
    if (!IsFinalState(j.state) && first_waiting == nullptr) first_waiting = &j;
  }
  const std::vector<std::string>& shown = !running.empty() ? running : gates;
  std::string now;
  for (size_t i = 0; i < shown.size() && i < 3; ++i) now += (i ? ", " : "") + shown[i];
  if (shown.size() > 3) now += " +" + std::to_string(shown.size() - 3);
  if (now.empty()) now = first_waiting ? first_waiting->id + " " + first_waiting->state : "-";
  return "done " + std::to_string(done) + "/" + std::to_string(jobs.size()) + "  running " +
         std::to_string(running.size()) + "  failed " + std::to_string(failed) + "  now: " + now;
}

std::string RenderChange(const JobView& job, const std::vector<JobView>& jobs) {
  const auto done =
      std::count_if(jobs.begin(), jobs.end(), [](const JobView& j) { return IsFinalState(j.state); });
  std::string line =
      "[" + std::to_string(done) + "/" + std::to_string(jobs.size()) + "] " + job.id + " " + job.state;
  if (job.kind == "GATE") {
    if (job.state == "WAITING_APPROVAL") return line + ": " + GateNote(job);
    return job.reason.empty() ? line : line + ": " + job.reason;
  }
  if (job.state == "RUNNING") {
    if (!job.worker.empty()) line += " on " + job.worker;
    return job.attempt > 1 ? line + " (attempt " + std::to_string(job.attempt) + ")" : line;
  }
  if (job.state == "COMPLETED") return line + " in " + JobDuration(job, job.finished_ms.value_or(0));
  const std::string note = Note(job);
  return note.empty() ? line : line + ": " + note;
}

std::vector<DagWatch::Change> DagWatch::Update(const std::vector<JobView>& jobs) {
  std::vector<Change> out;
  for (const JobView& j : jobs) {
    auto [it, fresh] = seen_.try_emplace(j.id, j.state, j.attempt);
    if (!fresh && it->second == std::make_pair(j.state, j.attempt)) continue;
    it->second = {j.state, j.attempt};
    const bool notable = (j.kind == "GATE" && (j.state == "WAITING_APPROVAL" || IsFinalState(j.state))) ||
                         j.state == "FAILED" || j.state == "DEAD";
    out.push_back({RenderChange(j, jobs), notable});
  }
  return out;
}

std::vector<JobView> CulpritJobs(const std::vector<JobView>& jobs) {
  std::vector<JobView> out;
  for (const JobView& j : jobs) {
    if (j.state == "FAILED" || j.state == "DEAD") out.push_back(j);
  }
  if (out.empty()) {
    for (const JobView& j : jobs) {
      if (j.state == "CANCELLED") out.push_back(j);
    }
  }
  return out;
}

std::string RenderCulprit(const JobView& job, std::string_view log_tail) {
  std::string out =
      std::string("titan: ") + (job.kind == "GATE" ? "gate " : "job ") + job.id + " " + DescribeOutcome(job);
  if (!job.worker.empty()) out += " (worker " + job.worker + ")";
  out += '\n';
  if (log_tail.empty()) return out;
  const size_t lines = static_cast<size_t>(std::count(log_tail.begin(), log_tail.end(), '\n'));
  out += "--- last " + (lines == 1 ? std::string("line") : std::to_string(lines) + " lines") + " of " +
         job.id + "'s log (all of it: titan logs " + job.id + ") ---\n";
  out += std::string(log_tail) + "---\n";
  return out;
}

std::string LastLines(std::string_view text, size_t n) {
  if (text.empty() || n == 0) return "";
  size_t start = text.size();
  size_t seen = 0;
  if (text.back() == '\n') --start;  // the final newline ends the last line, it does not start one
  while (start > 0) {
    if (text[start - 1] == '\n' && ++seen == n) break;
    --start;
  }
  std::string out(text.substr(start));
  if (out.back() != '\n') out += '\n';
  return out;
}

}  // namespace titan::cli
