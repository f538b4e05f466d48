// Job: the broker's record of one submitted job, its state machine's states, and their names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "schemas/generated/messages.h"

namespace titan::broker {

// The lifecycle (docs/architecture.md; every legal step is in CanTransition's table, job.cc):
//   PENDING -> BLOCKED (parents not done) -> SCHEDULED (delay) -> QUEUED -> RUNNING -> COMPLETED
//   a failed run with retries left goes back to SCHEDULED (backoff); without, FAILED (or DEAD when
//   retries were used up); JOB_STOP gives CANCELLED; a job still waiting for a parent that did not
//   complete is SKIPPED. A run whose worker is lost (or does not come back after a broker restart) goes
//   back to QUEUED, or DEAD after max_lost losses; a QUEUED run its returning worker still has is adopted
//   back to RUNNING. A service is RUNNING until it ends; its draining worker hands it back to QUEUED.
//   A human-in-the-loop gate goes BLOCKED -> WAITING_APPROVAL -> COMPLETED (approved) or FAILED
//   (rejected, or undecided for max_wait_s); it never runs on a worker.
enum class JobState {
  kPending,
  kBlocked,
  kScheduled,
  kQueued,
  kRunning,
  kWaitingApproval,
  kCompleted,
  kFailed,
  kCancelled,
  kDead,
  kSkipped
};
inline constexpr int kStateCount = 11;

const char* StateName(JobState s);
std::optional<JobState> StateFromName(std::string_view name);
bool IsFinal(JobState s);
// Whether the lifecycle allows `from` -> `to` (one table, job.cc). A final state has no way out; no
// state goes to itself. Recovery resumes a journaled state as is, except PENDING (from an old
// journal), which resumes QUEUED: a legal step too.
bool CanTransition(JobState from, JobState to);
// The table, one line per state that has a way out: "PENDING -> BLOCKED SCHEDULED ...\n".
std::string RenderTransitions();

struct Job {
  // From the submission (immutable).
  std::string id;
  // The JobSpec as submitted (job_type made canonical, parents as linked), forwarded in JOB_ASSIGN. A
  // gate's is its own (id, empty file, max_wait_s, parents); its kind and message are the fields below.
  wire::JobSpec spec;
  std::string file;
  std::string file_hash;
  std::string requirement = "GENERAL";
  int64_t priority = 1;
  int64_t delay_ms = 0;
  int64_t retries = 0;
  bool affinity = false;
  std::vector<std::string> parents;
  std::string dag;
  int64_t seq = 0;          // submission order: FIFO within a priority
  bool gate = false;        // a human-in-the-loop gate, not a process
  std::string message;      // gate: the question for the operator
  int64_t max_wait_ms = 0;  // gate: fails when undecided this long
  bool service = false;     // job_type SERVICE: kept running (restarted) by its worker until stopped
  int64_t port = 0;         // SERVICE: the port it listens on
  std::string spawned_by;   // the job that submitted this one: the affinity anchor when it has no parents
  // Which run of its id this is: an id may be submitted again once every earlier run is final; the
  // earlier runs stay as history. Derived from submission order (not journaled).
  int64_t run = 1;
  // The attempt number of this run's first attempt: attempts count on across runs of one id, so a
  // stale message about an earlier run's attempt can never match this run. 1 for a first run.
  int64_t first_attempt = 1;

  // Mutable, journaled.
  JobState state = JobState::kPending;
  int64_t attempt = 0;
  std::string worker;
  std::optional<int64_t> exit_code;
  std::string reason;
  int64_t submitted_ms = 0;  // wall clock (epoch ms), as every stored time: what users see
  int64_t started_ms = 0;    // a gate: when it opened (its expiry is started_ms + max_wait_ms)
  int64_t finished_ms = 0;
  int64_t lost = 0;        // times its worker died under it
  std::string decided_by;  // gate: who approved or rejected
  // The lease epoch (PostgreSQL journal) its current attempt was assigned under; 0 on SQLite (no epochs).
  // A worker's report of that attempt carrying an older epoch is stale (reconcile.h, WhyStale).
  int64_t epoch = 0;
  // Some of its output could not be kept (a disk was full: the worker's job.log or the broker's log
  // store): JobInfo.log_truncated. Journaled as a row of truncated_logs, once it is set.
  bool log_truncated = false;
  // What its last finished run used, as its worker measured it (JobResult.usage): JobInfo.usage.
  // Journaled as a row of job_usage.
  std::optional<wire::JobUsage> usage;

  // Derived at run time (not journaled).
  std::vector<int64_t> parent_runs;  // the run of each parent (parents[i]) this job was linked to
  std::vector<std::pair<std::string, int64_t>> children;  // (id, run) of each child linked to this run
  int unmet_parents = 0;
  int64_t log_size = 0;
  int64_t next_log_seq = 0;
  int64_t queued_at = 0;  // monotonic: when it last entered QUEUED (auto-scaling measures the wait)
  int64_t passed = 0;     // later jobs of its queue placed while it waited (Dispatch's starvation bound)
  bool ready = false;     // SERVICE: its worker reports it accepting connections now
  bool released = false;  // SERVICE: was ready once, so its children stopped waiting for it
  int64_t restarts = 0;   // SERVICE: restarts its workers reported, over all attempts
  int64_t restarts_before = 0;  // SERVICE: of those, restarts in earlier attempts
  int64_t up_since_ms = 0;      // SERVICE, wall: when its current process started (assignment or restart)
  bool stop_requested = false;  // JOB_STOP was asked: a service that ends now is not moved elsewhere
  int64_t pid = 0;              // SERVICE: its process, as the last SERVICE_STATUS of this attempt said
  int64_t replaced_pid = 0;     // SERVICE: the process SERVICE_RESTART replaces: its statuses are stale
  // Journal write owed at the end of this loop turn (BrokerCore::CommitTurn): none, an update of the
  // mutable fields, or the first insert of the whole job.
  enum class Owed : uint8_t { kNothing, kUpdate, kInsert };
  Owed journal_owed = Owed::kNothing;
};

// The JobInfo struct of the protocol.
wire::JobInfo RenderJobInfo(const Job& job);

// The attempts of this run so far (what users see as `attempt`: 1 for the first of this run).
inline int64_t RunAttempt(const Job& job) {
  return job.attempt >= job.first_attempt ? job.attempt - job.first_attempt + 1 : 0;
}

// The LogStore name of the run's log: the id for a first run, the id with "\x01run<N>" appended for
// a later one (ids cannot hold control characters, so it never names another job's log).
std::string LogName(const Job& job);
std::string LogName(const std::string& id, int64_t run);

// The ranges a submission's time fields must be within (JOB_SUBMIT answers INVALID naming the field
// otherwise): far beyond any real use, and far enough from INT64_MAX that deadlines computed from them
// cannot overflow.
inline constexpr int64_t kMaxDelayMs = int64_t{10} * 365 * 86'400'000;  // delay_ms: ten years
inline constexpr int64_t kMaxTimeoutMs = int64_t{365} * 86'400'000;     // timeout_ms: one year
inline constexpr int64_t kMaxWaitS = int64_t{100} * 365 * 86'400;       // max_wait_s: a century

// Copies the submitted JobSpec fields (file, requirement, priority, ...) from job.spec into `job`, with
// their defaults: requirement upper-cased (GENERAL when absent or empty), max_wait_s clamped to a
// century. The spec's types were checked when it was decoded (JobSpec::From), so this cannot fail.
void ApplySpec(Job& job);

// A DAG: the jobs of one submission, with a status of its own derived from theirs.
struct Dag {
  std::string id;  // the name, or name#N when the name was used before
  std::string name;
  std::string agent_run_id;
  std::vector<std::string> job_ids;
  int64_t submitted_ms = 0;
  std::vector<int64_t> job_runs;  // the run of each job id in this DAG (same order as job_ids)
  // The idempotency token of the submission that made it (JOB_SUBMIT.token, DAG_RERUN.token); "" none.
  // A request carrying it again is answered with this DAG's JOB_ACCEPTED while the row is journaled.
  std::string token;
  // Derived (not journaled): its jobs not yet final. A DAG with none left may leave memory (retention).
  int64_t live = 0;
};

}  // namespace titan::broker
