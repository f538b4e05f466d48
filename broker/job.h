// Job: the broker's record of one submitted job, its state machine's states, and their names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "datum.h"

namespace titan::broker {

// The lifecycle (docs/architecture.md):
//   PENDING -> BLOCKED (parents not done) -> SCHEDULED (delay) -> QUEUED -> RUNNING -> COMPLETED
//   a failed run with retries left goes back to SCHEDULED (backoff); without, FAILED (or DEAD when
//   retries were used up); JOB_STOP gives CANCELLED; descendants of a job that did not complete are SKIPPED.
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

struct Job {
  // From the submission (immutable).
  std::string id;
  wire::Map spec;  // the JobSpec as submitted, forwarded in JOB_ASSIGN
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

  // Mutable, journaled.
  JobState state = JobState::kPending;
  int64_t attempt = 0;
  std::string worker;
  std::optional<int64_t> exit_code;
  std::string reason;
  int64_t submitted_ms = 0;
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  int64_t lost = 0;        // times its worker died under it
  std::string decided_by;  // gate: who approved or rejected

  // Derived at run time (not journaled).
  std::vector<std::string> children;
  int unmet_parents = 0;
  int64_t log_size = 0;
  int64_t next_log_seq = 0;
  int64_t queued_at = 0;        // when it last entered QUEUED (auto-scaling measures the wait)
  bool ready = false;           // SERVICE: its worker reports it accepting connections now
  bool released = false;        // SERVICE: was ready once, so its children stopped waiting for it
  int64_t restarts = 0;         // SERVICE: restarts its workers reported, over all attempts
  int64_t restarts_before = 0;  // SERVICE: of those, restarts in earlier attempts
  bool stop_requested = false;  // JOB_STOP was asked: a service that ends now is not moved elsewhere
  // Journal write owed at the end of this loop turn (BrokerCore::CommitTurn): none, an update of the
  // mutable fields, or the first insert of the whole job.
  enum class Owed : uint8_t { kNothing, kUpdate, kInsert };
  Owed journal_owed = Owed::kNothing;
};

// The JobInfo struct of the protocol.
wire::Datum RenderJobInfo(const Job& job);

// Reads the submitted JobSpec fields (file, requirement, priority, ...) from job.spec into `job`.
void ApplySpec(Job& job);

// A DAG: the jobs of one submission, with a status of its own derived from theirs.
struct Dag {
  std::string id;  // the name, or name#N when the name was used before
  std::string name;
  std::string agent_run_id;
  std::vector<std::string> job_ids;
  int64_t submitted_ms = 0;
};

}  // namespace titan::broker
