// Pure renderings of DAGs, agent runs and schedules (DagInfo, ScheduleInfo with their JobInfos), and of a
// DAG's progress for `titan submit --wait`. No sockets, no clock: callers pass `now_ms`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/job_view.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// A DagInfo as the CLI shows it (also what RUN_LIST reports per agent run, with id = the run id).
struct DagView {
  std::string id, name, state, agent_run_id;
  int64_t jobs = 0, done = 0, failed = 0, submitted_ms = 0;
  std::optional<int64_t> finished_ms;
};
DagView DagFromInfo(const wire::DagInfo& dag);
// The same from a DagInfo map; a map that is not a DagInfo gives an empty view.
DagView DagFromDatum(const wire::Datum& dag);

struct ScheduleView {
  std::string name, cron;
  int64_t jobs = 0, next_ms = 0;
  std::optional<int64_t> last_ms;
  bool enabled = true;  // false: disabled (`titan schedule disable`); it does not fire
};
ScheduleView ScheduleFromInfo(const wire::ScheduleInfo& schedule);

// A DAG with its jobs and gates, in submission order (DAG_INFO).
struct DagDetail {
  DagView dag;
  std::vector<JobView> jobs;
};
DagDetail DagDetailFrom(const wire::DagInfoMsg& dag_info);  // a DAG_INFO with found = true

// `titan dags`: ID STATE DONE FAILED RUN AGE DURATION.
std::string RenderDagTable(const std::vector<DagView>& dags, int64_t now_ms);
// `titan dags --json`, `titan runs --json`: an array of objects keyed by the DagInfo field names.
std::string RenderDagsJson(const std::vector<DagView>& dags);
// `titan dag ID --json`: {"dag": DagInfo, "jobs": [JobInfo...]}.
std::string RenderDagJson(const DagDetail& detail);
// `titan runs`: RUN STATE DONE FAILED AGE.
std::string RenderRunTable(const std::vector<DagView>& runs, int64_t now_ms);
// `titan dag ID`: the DAG's fields, then its jobs with state, worker, start (after the DAG's submission),
// duration and a note (why it waits or failed; a gate's question and decision).
std::string RenderDagDetail(const DagDetail& detail, int64_t now_ms);
// `titan run-status RUN`: the run's totals, then each DAG (oldest first) with its jobs' state, worker
// and duration.
std::string RenderRunStatus(const DagView& run, const std::vector<DagDetail>& dags, int64_t now_ms);
// `titan schedules`: NAME CRON JOBS NEXT LAST; a disabled schedule's NEXT is "disabled".
std::string RenderScheduleTable(const std::vector<ScheduleView>& schedules, int64_t now_ms);

// ---- `titan submit --wait` ----

// "done 3/10  running 2  failed 0  now: TRANSFORM": final jobs, running ones, those that ended other
// than COMPLETED, and what is happening (running jobs, else gates awaiting approval, else the first
// unfinished job and its state).
std::string RenderProgress(const std::vector<JobView>& jobs);

// One line for a job that reached `job.state`, prefixed by the DAG's done/total:
// "[1/4] EXTRACT RUNNING on h-w1", "[2/4] EXTRACT COMPLETED in 2s", "[2/4] LOAD FAILED: exit 3".
std::string RenderChange(const JobView& job, const std::vector<JobView>& jobs);

// Remembers each job's (state, attempt) across DAG_INFO snapshots.
class DagWatch {
 public:
  struct Change {
    std::string line;  // RenderChange
    bool notable;      // a gate opened or was decided, or a job failed: worth a line of its own on a terminal
  };
  // The jobs whose state or attempt differs from the previous snapshot (on the first call: all), in
  // submission order.
  std::vector<Change> Update(const std::vector<JobView>& jobs);

 private:
  std::map<std::string, std::pair<std::string, int64_t>> seen_;
};

// The jobs to blame for a DAG that did not complete: FAILED and DEAD ones (gates included); when there
// are none, the CANCELLED ones.
std::vector<JobView> CulpritJobs(const std::vector<JobView>& jobs);

// "titan: job LOAD FAILED: exit 3 (worker h-w1)" or "titan: gate hitl-gate-X FAILED: rejected by bob";
// then, when `log_tail` is not empty, the tail between two marker lines.
std::string RenderCulprit(const JobView& job, std::string_view log_tail);

// The last `n` lines of `text` (a final line without '\n' counts; the result ends with '\n' unless empty).
std::string LastLines(std::string_view text, size_t n);

}  // namespace titan::cli
