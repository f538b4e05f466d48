// Pure renderings of what the broker reports (JobInfo, STATS) for the terminal and for --json.
// No sockets, no clock: callers pass `now_ms`, so tests get stable strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// A JobInfo as the CLI shows it: absent optional fields are empty strings, 0, false.
struct JobView {
  std::string id, state, file, requirement, worker, reason, dag;
  std::string kind, message, decided_by;  // kind "GATE": a human approval gate, its question and decider
  int64_t priority = 0, attempt = 0;
  std::vector<std::string> parents;
  std::optional<int64_t> exit_code, started_ms, finished_ms;
  int64_t submitted_ms = 0;
  std::string job_type;  // "SERVICE" for services, else empty
  int64_t port = 0, restarts = 0;
  bool ready = false;
  int64_t run = 1;                      // which run of its id (ids are reused once the earlier run ended)
  std::optional<int64_t> up_since_ms;   // SERVICE: when its current process started (its last restart)
  std::vector<std::string> secret_env;  // "NAME=****" per secret (the broker never reports a value)
  bool log_truncated = false;           // some of its output was lost to a full disk
  // Its limits as submitted, and what its last finished run used (docs/job-control.md).
  std::optional<int64_t> max_memory, max_cpu, max_iobps, max_processes;
  std::optional<std::string> cpu_cores;
  std::optional<wire::JobUsage> usage;
  // What it runs and gets (docs/job-control.md): a command (instead of a file) with its argv as given.
  std::string command, runtime, work_dir;
  std::vector<std::string> argv, volumes;
};
JobView JobFromInfo(const wire::JobInfo& job);
// The same from a JobInfo map; a map that is not a JobInfo gives an empty view.
JobView JobFromDatum(const wire::Datum& job);

// COMPLETED, FAILED, CANCELLED, DEAD and SKIPPED: the job will not change any more.
bool IsFinalState(std::string_view state);

// "850ms", "12s", "3m04s", "2h05m", "3d04h"; "-" for a negative span.
std::string FormatDuration(int64_t ms);
// "2024-05-01 13:02:03" in local time.
std::string FormatTime(int64_t epoch_ms);

// Rows as columns two spaces apart, each line prefixed by `indent`; the first row is the header.
std::string RenderColumns(const std::vector<std::vector<std::string>>& rows, std::string_view indent = "");

// A gate's question and what became of it: "\"Publish?\" approved by bob", "\"Publish?\" waiting:
// titan approve|reject hitl-gate-X". Empty for a job that is not a gate.
std::string GateNote(const JobView& job);

// `titan status`: one "name: value" line per known field.
std::string RenderJobStatus(const JobView& job, int64_t now_ms);
// `titan status ID --history`: every run of the id, oldest first: RUN STATE WORKER ATTEMPT SUBMITTED
// DURATION EXIT REASON.
std::string RenderJobHistory(const std::vector<JobView>& runs, int64_t now_ms);
// `titan jobs`: a table with the header ID STATE WORKER ATTEMPT AGE DURATION (and GATE, the gate's
// note, when a gate is listed).
std::string RenderJobTable(const std::vector<JobView>& jobs, int64_t now_ms);
// `titan jobs --json`: a JSON array of objects keyed by the JobInfo field names (absent: null).
std::string RenderJobsJson(const std::vector<JobView>& jobs);
// `titan services`: ID STATE READY WORKER PORT UPTIME RESTARTS (uptime since its current process
// started: its last restart).
std::string RenderServiceTable(const std::vector<JobView>& services, int64_t now_ms);
// `titan stats`: the STATS reply as the operator's screen (with recent auto-scaling decisions). A worker
// with an address port shows it next to its name, as the original did: "[worker-8081] [8081]".
std::string RenderStats(const wire::StatsMsg& stats);
// `titan workers`: the "Worker Status:" part of it (load, skills, machine, capacity, running jobs).
std::string RenderWorkerList(const std::vector<wire::WorkerInfo>& workers);
// `titan volume list`: NAME WORKER TYPE SIZE JOBS AGE PATH ("-" for what is absent; JOBS the number of
// unfinished jobs naming it).
std::string RenderVolumeTable(const std::vector<wire::VolumeInfo>& volumes, int64_t now_ms);
// `titan json`: the STATS reply as one JSON object keyed by the schema's field names (WorkerInfo
// objects under "workers"; absent optional fields are left out).
std::string RenderStatsJson(const wire::StatsMsg& stats);

// Any decoded value (a struct's ToDatum(), a message body) as JSON: maps as objects with nil members left
// out, text and bytes as strings.
std::string DatumJson(const wire::Datum& d);

// `s` as a JSON string literal, quotes included. In a string that is not valid UTF-8,
// every non-ASCII byte becomes U+FFFD.
std::string JsonString(std::string_view s);

// How a finished job ended: "COMPLETED", "FAILED: exit 3", "DEAD: <the broker's reason>".
std::string DescribeOutcome(const JobView& job);

}  // namespace titan::cli
