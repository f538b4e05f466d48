// Reconcile: what a (re-)registering worker's report means, against what the broker believes. A pure
// function over a snapshot (no sockets, no clock, no core): BrokerCore::RegisterWorker builds the
// snapshot and carries out the decisions. Tested with tables in reconcile_test.cc.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "broker/job.h"

namespace titan::broker {

// One run a worker lists in WORKER_READY: still running, or finished with an unacknowledged result.
struct RunRef {
  std::string id;
  int64_t attempt = 0;
  int64_t epoch = 0;  // the lease epoch it was assigned under (JobRef/JobResult.epoch); 0: not said
};

// The broker's view of the latest run of one job id. Attempts count on across the runs of a reused
// id (Job::first_attempt), so an attempt number names one run of one id.
struct BelievedRun {
  JobState state = JobState::kPending;
  int64_t attempt = 0;       // the run's current attempt
  std::string worker;        // where it was last placed
  bool worker_live = false;  // `worker` is registered now (and is not the reporting worker)
  int64_t epoch = 0;         // the lease epoch `attempt` was assigned under (Job::epoch); 0: none
};

struct ReconcileInput {
  std::string worker;            // the reporting worker's name
  std::vector<RunRef> running;   // what it still runs
  std::vector<RunRef> finished;  // results it has not had acknowledged
  // By id: the latest run of every id reported and of every job believed to run on `worker`. An id
  // the broker does not know is absent.
  std::map<std::string, BelievedRun> believed;
  // The worker registered before (WORKER_READY.session > 1): the same process, so a run believed there
  // that it does not list either never reached it (an assignment lost with a broker that died before
  // sending it, or with a connection) or was killed by the worker for its lease (fencing; its result
  // follows): requeued, but not counted as a loss of the job's worker (max_lost), which did not die. A
  // new process (session 1, or not said) lacks it because its previous life died with it: a loss.
  bool same_life = false;
};

struct Decision {
  enum Kind {
    kAdopt,          // a run the broker expects there: it stays RUNNING on this worker
    kAdoptRequeued,  // requeued when the worker was thought lost, still running: back to RUNNING
    kCancel,         // a run the broker does not expect: the worker is told to cancel it
    kApplyResult,    // a result for the run the broker expects: applied as JOB_DONE
    kIgnoreResult,   // a stale result: only acknowledged
    kRequeue,        // believed to run there, but the worker no longer has it: back to the queue
  } kind;
  std::string id;
  int64_t attempt = 0;
  size_t result = 0;         // kApplyResult, kIgnoreResult: its index in ReconcileInput::finished
  std::string why;           // kCancel, kIgnoreResult, kRequeue: for the log and the worker
  bool stale_epoch = false;  // kCancel, kIgnoreResult: because of OlderEpoch (counted, logged)
  bool lost = false;         // kRequeue: its worker died under it (a loss of the job: max_lost applies)
};

// Whether a report of a run carries an older lease epoch than the journal's assignment of that attempt:
// the attempt number was given again by a later leader (a commit of the earlier one was lost with a
// database failover), so the report is about a run the journal no longer has. Both epochs must be known
// (> 0: PostgreSQL journal, a worker that returns epochs). A run assigned under epoch 5 and adopted
// after a failover by the leader of epoch 6 keeps epoch 5 in the journal: its reports (epoch 5) are not
// stale. A newer epoch than the journal's is not refused: only a broker holding the lease commits it.
bool OlderEpoch(const RunRef& report, const BelievedRun* believed);

// Why a result for `result` is stale on `worker` (only acknowledged); "" when it applies: the broker
// believes that very attempt runs on that worker, assigned under the epoch it carries (OlderEpoch). The
// one rule for WORKER_READY's results and JOB_DONE.
std::string WhyStale(const RunRef& result, const BelievedRun* believed, const std::string& worker);

// The decisions in the order to carry them out: the running list's (in its order), then the results',
// then the requeues (by id). Each reported run gets one decision; a run reported twice, one.
std::vector<Decision> Reconcile(const ReconcileInput& in);

// "adopt a/1, cancel b/2 (stale attempt: the broker expects attempt 3), requeue c/1 (...)", for tests.
std::string RenderDecisions(const std::vector<Decision>& decisions);

}  // namespace titan::broker
