// Text and JSON renderings of JobInfo and STATS.
#include "cli/job_view.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "base/exit_reason.h"
#include "cli/capacity_view.h"
#include "cli/limits_view.h"
#include "cli/machine_view.h"
#include "cli/submit.h"

namespace titan::cli {
namespace {

using wire::Datum;
using wire::List;
using wire::Map;

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? std::string(sep) : "") + items[i];
  return out;
}

std::string JsonInt(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "null"; }
std::string JsonStrOrNull(const std::string& s) { return s.empty() ? "null" : JsonString(s); }

}  // namespace

std::string DatumJson(const Datum& d) {
  if (const auto* b = std::get_if<bool>(&d.v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<int64_t>(&d.v)) return std::to_string(*i);
  if (const auto* f = std::get_if<double>(&d.v)) return std::isfinite(*f) ? std::to_string(*f) : "null";
  if (d.is_value()) return JsonString(d.bytes());
  std::string out;
  if (const auto* list = std::get_if<List>(&d.v)) {
    for (const Datum& item : *list) out += (out.empty() ? "" : ",") + DatumJson(item);
    return "[" + out + "]";
  }
  if (const auto* map = std::get_if<Map>(&d.v)) {
    for (const auto& [k, v] : *map) {
      if (!v.is_nil()) out += (out.empty() ? "" : ",") + JsonString(k) + ":" + DatumJson(v);
    }
    return "{" + out + "}";
  }
  return "null";
}

namespace {

// How long the job ran (or has been running); "-" before it started.
std::string RunTime(const JobView& job, int64_t now_ms) {
  if (!job.started_ms) return "-";
  return FormatDuration((job.finished_ms ? *job.finished_ms : now_ms) - *job.started_ms);
}

}  // namespace

JobView JobFromInfo(const wire::JobInfo& job) {
  JobView v;
  v.id = job.id;
  v.state = job.state;
  v.file = job.file;
  v.requirement = job.requirement;
  v.worker = job.worker.value_or("");
  v.reason = job.reason.value_or("");
  v.dag = job.dag.value_or("");
  v.kind = job.kind.value_or("");
  v.message = job.message.value_or("");
  v.decided_by = job.decided_by.value_or("");
  v.priority = job.priority;
  v.attempt = job.attempt;
  v.parents = job.parents;
  v.exit_code = job.exit_code;
  v.submitted_ms = job.submitted_ms;
  v.started_ms = job.started_ms;
  v.finished_ms = job.finished_ms;
  v.job_type = job.job_type.value_or("");
  v.port = job.port.value_or(0);
  v.restarts = job.restarts.value_or(0);
  v.ready = job.ready.value_or(false);
  v.run = job.run.value_or(1);
  v.up_since_ms = job.up_since_ms;
  v.secret_env = job.secret_env.value_or(std::vector<std::string>{});
  v.log_truncated = job.log_truncated.value_or(false);
  v.max_memory = job.max_memory;
  v.max_cpu = job.max_cpu;
  v.cpu_cores = job.cpu_cores;
  v.max_iobps = job.max_iobps;
  v.max_processes = job.max_processes;
  v.usage = job.usage;
  v.command = job.command.value_or("");
  v.argv = job.argv.value_or(std::vector<std::string>{});
  v.runtime = job.runtime.value_or("");
  v.work_dir = job.work_dir.value_or("");
  v.volumes = job.volumes.value_or(std::vector<std::string>{});
  return v;
}

JobView JobFromDatum(const Datum& job) {
  const Result<wire::JobInfo> info = wire::JobInfo::From(job);
  return info.ok() ? JobFromInfo(info.value()) : JobView{};
}

bool IsFinalState(std::string_view state) {
  return state == "COMPLETED" || state == "FAILED" || state == "CANCELLED" || state == "DEAD" ||
         state == "SKIPPED";
}

std::string FormatDuration(int64_t ms) {
  if (ms < 0) return "-";
  char buf[32];
  const int64_t s = ms / 1000;
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

std::string FormatTime(int64_t epoch_ms) {
  const time_t t = static_cast<time_t>(epoch_ms / 1000);
  tm local{};
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &local);
  return buf;
}

std::string RenderJobStatus(const JobView& job, int64_t now_ms) {
  std::ostringstream out;
  auto line = [&](const char* name, const std::string& value) {
    if (!value.empty()) out << name << std::string(12 - std::string_view(name).size(), ' ') << value << '\n';
  };
  line("job:", job.id);
  if (job.run > 1)
    line("run:", std::to_string(job.run) + " (earlier runs: titan status " + job.id + " --history)");
  line("state:", job.state);
  line("reason:", job.reason);
  line("worker:", job.worker);
  line("attempt:", std::to_string(job.attempt));
  line("exit code:", job.exit_code ? std::to_string(*job.exit_code) : "");
  if (job.log_truncated)
    line("log:",
         "log truncated: some of its output was lost (a full disk, or sent while the broker was down; the "
         "worker's job.log may have it)");
  line("file:", job.file);
  if (!job.command.empty()) {  // quoted as a shell would need it, so "a b" reads as one argument
    std::vector<std::string> words{job.command};
    words.insert(words.end(), job.argv.begin(), job.argv.end());
    line("command:", ShellJoin(words));
  }
  line("runtime:", job.runtime);
  line("work dir:", job.work_dir);
  line("volumes:", Join(job.volumes, ", "));
  line("requires:", job.requirement);
  line("priority:", std::to_string(job.priority));
  line("parents:", Join(job.parents, ", "));
  line("dag:", job.dag);
  line("secrets:", Join(job.secret_env, ", "));
  line("limits:", RenderLimits(job.max_memory, job.max_cpu, job.cpu_cores, job.max_iobps, job.max_processes));
  line("usage:", RenderUsage(job.usage));
  if (job.kind == "GATE") {
    line("gate:", JsonString(job.message));
    line("decided by:", job.decided_by);
    if (job.state == "WAITING_APPROVAL")
      line("decide:", "titan approve " + job.id + "  |  titan reject " + job.id);
  }
  line("submitted:",
       FormatTime(job.submitted_ms) + " (" + FormatDuration(now_ms - job.submitted_ms) + " ago)");
  if (job.started_ms) line("started:", FormatTime(*job.started_ms));
  if (job.finished_ms) line("finished:", FormatTime(*job.finished_ms));
  if (job.started_ms) line(job.finished_ms ? "ran:" : "running:", RunTime(job, now_ms));
  return out.str();
}

std::string RenderJobHistory(const std::vector<JobView>& runs, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"RUN", "STATE", "WORKER", "ATTEMPT", "SUBMITTED", "DURATION", "EXIT", "REASON"}};
  for (const JobView& j : runs) {
    rows.push_back({std::to_string(j.run), j.state, j.worker.empty() ? "-" : j.worker,
                    std::to_string(j.attempt), FormatTime(j.submitted_ms), RunTime(j, now_ms),
                    j.exit_code ? std::to_string(*j.exit_code) : "-", j.reason});
  }
  return RenderColumns(rows);
}

std::string RenderColumns(const std::vector<std::vector<std::string>>& rows, std::string_view indent) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line(indent);
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  }
  return out;
}

std::string GateNote(const JobView& job) {
  if (job.kind != "GATE") return "";
  const std::string question = JsonString(job.message);
  if (job.state == "WAITING_APPROVAL") return question + " waiting: titan approve|reject " + job.id;
  if (!job.decided_by.empty() || job.state == "FAILED") {
    return job.reason.empty() ? question : question + " " + job.reason;
  }
  return question;
}

std::string RenderJobTable(const std::vector<JobView>& jobs, int64_t now_ms) {
  const bool gates = std::any_of(jobs.begin(), jobs.end(), [](const JobView& j) { return j.kind == "GATE"; });
  std::vector<std::vector<std::string>> rows{{"ID", "STATE", "WORKER", "ATTEMPT", "AGE", "DURATION"}};
  if (gates) rows[0].push_back("GATE");
  for (const JobView& j : jobs) {
    rows.push_back({j.id, j.state, j.worker.empty() ? "-" : j.worker, std::to_string(j.attempt),
                    FormatDuration(now_ms - j.submitted_ms), RunTime(j, now_ms)});
    if (gates) rows.back().push_back(GateNote(j));
  }
  return RenderColumns(rows);
}

std::string RenderJobsJson(const std::vector<JobView>& jobs) {
  std::string out = "[";
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobView& j = jobs[i];
    auto list = [](const std::vector<std::string>& items) {
      std::string out = "[";
      for (size_t p = 0; p < items.size(); ++p) out += (p ? "," : "") + JsonString(items[p]);
      return out + "]";
    };
    const std::string parents = list(j.parents);
    out += std::string(i ? ",\n " : "\n ") + "{\"id\":" + JsonString(j.id) +
           ",\"state\":" + JsonString(j.state) + ",\"file\":" + JsonString(j.file) +
           ",\"requirement\":" + JsonString(j.requirement) + ",\"priority\":" + std::to_string(j.priority) +
           ",\"attempt\":" + std::to_string(j.attempt) + ",\"parents\":" + parents +
           ",\"worker\":" + JsonStrOrNull(j.worker) + ",\"exit_code\":" + JsonInt(j.exit_code) +
           ",\"reason\":" + JsonStrOrNull(j.reason) + ",\"submitted_ms\":" + std::to_string(j.submitted_ms) +
           ",\"started_ms\":" + JsonInt(j.started_ms) + ",\"finished_ms\":" + JsonInt(j.finished_ms) +
           ",\"dag\":" + JsonStrOrNull(j.dag) + ",\"kind\":" + JsonStrOrNull(j.kind) +
           ",\"message\":" + (j.kind.empty() ? "null" : JsonString(j.message)) +
           ",\"decided_by\":" + JsonStrOrNull(j.decided_by) + ",\"job_type\":" + JsonStrOrNull(j.job_type) +
           ",\"port\":" + (j.job_type.empty() ? "null" : std::to_string(j.port)) +
           ",\"restarts\":" + (j.job_type.empty() ? "null" : std::to_string(j.restarts)) + ",\"ready\":" +
           (j.job_type.empty() ? "null"
            : j.ready          ? "true"
                               : "false") +
           ",\"run\":" + std::to_string(j.run) + ",\"up_since_ms\":" + JsonInt(j.up_since_ms) +
           ",\"secret_env\":" + (j.secret_env.empty() ? "null" : list(j.secret_env)) +
           ",\"log_truncated\":" + (j.log_truncated ? "true" : "false") + "}";
  }
  return out + (jobs.empty() ? "]\n" : "\n]\n");
}

std::string RenderServiceTable(const std::vector<JobView>& services, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "STATE", "READY", "WORKER", "PORT", "UPTIME", "RESTARTS"}};
  for (const JobView& s : services) {
    const std::optional<int64_t> since = s.up_since_ms ? s.up_since_ms : s.started_ms;
    const bool up = s.state == "RUNNING" && since;
    rows.push_back({s.id, s.state, s.state == "RUNNING" ? (s.ready ? "yes" : "no") : "-",
                    s.worker.empty() ? "-" : s.worker, s.port ? std::to_string(s.port) : "-",
                    up ? FormatDuration(now_ms - *since) : "-", std::to_string(s.restarts)});
  }
  if (services.empty()) return "no services: deploy one with `titan deploy FILE --port P`\n";
  return RenderColumns(rows);
}

namespace {

// "[name]", or "[name] [port]" for a worker known by a port.
std::string WorkerLabel(const wire::WorkerInfo& w) {
  return "[" + w.name + "]" + (w.port ? " [" + std::to_string(*w.port) + "]" : "");
}

void RenderWorkers(const std::vector<wire::WorkerInfo>& workers, std::ostringstream& out) {
  out << "Worker Status:\n";
  if (workers.empty()) out << " (no workers: start one with `titan worker` or `titan up`)\n";
  size_t label_width = 0;
  for (const auto& w : workers) label_width = std::max(label_width, WorkerLabel(w).size());
  for (const auto& w : workers) {
    const std::string name = WorkerLabel(w);
    const std::string load = "Load: " + std::to_string(w.busy) + "/" + std::to_string(w.slots) + " (" +
                             std::to_string(w.slots > 0 ? w.busy * 100 / w.slots : 0) + "%)";
    out << " \u2022 " << name << ' ' << std::string(label_width - name.size(), ' ') << load
        << std::string(load.size() < 19 ? 19 - load.size() : 1, ' ') << "| Skills: ["
        << Join(w.capabilities, ", ") << "]";
    if (!w.state.empty() && w.state != "READY") out << " (" << w.state << ")";
    out << '\n';
    if (w.runtimes && !w.runtimes->empty()) out << "    runtimes: " << Join(*w.runtimes, ", ") << '\n';
    if (const std::string machine = w.machine ? RenderMachine(*w.machine) : ""; !machine.empty()) {
      out << "    " << machine << '\n';
    }
    if (const std::string capacity = RenderCapacity(w); !capacity.empty()) out << "    " << capacity << '\n';
    for (const std::string& id : w.running) out << "    \u2514\u2500\u2500 " << id << '\n';
  }
}

}  // namespace

std::string RenderWorkerList(const std::vector<wire::WorkerInfo>& workers) {
  std::ostringstream out;
  RenderWorkers(workers, out);
  return out.str();
}

std::string RenderVolumeTable(const std::vector<wire::VolumeInfo>& volumes, int64_t now_ms) {
  if (volumes.empty()) return "no volumes (create one with `titan volume create NAME`)\n";
  std::vector<std::vector<std::string>> rows = {{"NAME", "WORKER", "TYPE", "SIZE", "JOBS", "AGE", "PATH"}};
  for (const wire::VolumeInfo& v : volumes) {
    rows.push_back({v.name, v.worker, v.type, v.size.value_or("-"),
                    std::to_string(v.jobs ? v.jobs->size() : 0), FormatDuration(now_ms - v.created_ms),
                    v.path.value_or("-")});
  }
  return RenderColumns(rows);
}

std::string RenderStats(const wire::StatsMsg& stats) {
  std::ostringstream out;
  auto count = [&](const char* label, int64_t n) {
    out << label << std::string(19 - std::string_view(label).size(), ' ') << n << " jobs\n";
  };
  out << "--- TITAN SYSTEM MONITOR ---\n";
  if (stats.read_only.value_or(false)) {
    out << "READ-ONLY since " << FormatTime(stats.read_only_since_ms.value_or(0)) << ": new work is refused; "
        << stats.read_only_reason.value_or("") << '\n';
  }
  out << "Active Workers:    " << stats.workers.size() << '\n';
  if (stats.pending > 0) count("Pending:", stats.pending);
  count("Execution Queue:", stats.queued);
  count("Blocked (DAG):", stats.blocked);
  count("Scheduled:", stats.scheduled);
  count("Running:", stats.running);
  count("Unsatisfiable:", stats.unsatisfiable);
  out << "Finished:          " << stats.completed << " completed, " << stats.failed << " failed\n";
  out << "-------------------------------\n";
  RenderWorkers(stats.workers, out);
  if (stats.scaling && !stats.scaling->empty()) {
    out << "-------------------------------\n";
    out << "Auto-scaling (recent):\n";
    for (const wire::ScaleEvent& e : *stats.scaling) {
      out << " " << FormatTime(e.ts_ms) << "  " << e.action << ' ' << e.worker << " on " << e.parent << ": "
          << e.reason << '\n';
    }
  }
  return out.str();
}

std::string RenderStatsJson(const wire::StatsMsg& stats) {
  return DatumJson(Datum(stats.ToMessage().body)) + "\n";
}

namespace {

// The JSON escape of a character that has a short one (a newline: backslash n), else nullptr.
const char* ShortEscape(char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    case '\b':
      return "\\b";
    case '\f':
      return "\\f";
    default:
      return nullptr;
  }
}

}  // namespace

std::string JsonString(std::string_view s) {
  const bool utf8 = wire::IsValidUtf8(s);
  std::string out = "\"";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (const char* e = ShortEscape(c)) {
      out += e;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += u >= 0x80 && !utf8 ? std::string("\\ufffd") : std::string(1, c);
    }
  }
  return out + "\"";
}

std::string DescribeOutcome(const JobView& job) {
  if (job.state == "COMPLETED") return job.state;
  // The broker's reason is the sentence for humans; the exit code stands in when there is none.
  std::string detail = !job.reason.empty() ? job.reason : job.exit_code ? ExitReason(*job.exit_code, 0) : "";
  if (job.attempt > 1 && detail.find("attempt") == std::string::npos) {
    detail += (detail.empty() ? "" : ", ") + std::to_string(job.attempt) + " attempts";
  }
  return detail.empty() ? job.state : job.state + ": " + detail;
}

}  // namespace titan::cli
