// The runs a worker's reaper watches, so that a run whose process exited just before its worker was killed
// is reported as it ended instead of running again. The worker hands the reaper a pidfd of each run's
// leader as it starts it (SendRun, over a SOCK_SEQPACKET socketpair, SCM_RIGHTS); the reaper keeps the
// last kMaxWatched (WatchedRuns). When the worker is gone, the exit status of a leader that had exited
// (ExitOf: the kernel's record of a reaped process, Linux 6.15+, or a zombie's /proc entry) becomes the
// run's result (ResultsOf), which the reaper reports to the broker (reaper_report.h).
// A run's leader outlives its worker (its parent-death signal covers only its start: JobContext::
// runs_outlive_worker), so a run about to end when its worker is killed can still end: the reaper lets
// the watched runs finish for a grace (LetRunsFinish), draining their output pipes (handed over with the
// pidfd) so that no run blocks on a full pipe or dies of SIGPIPE. What they write then is dropped: it
// may hold secrets only the worker masks, and the result says log_truncated. Only leaders that exited on
// their own count; the sweep after the grace kills the rest, and those runs are requeued as before.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "schemas/generated/messages.h"

namespace titan::worker {

// One run the reaper watches: what the result names, and the leader's pid and pidfd.
struct WatchedRun {
  std::string id;
  int64_t attempt = 0;
  std::optional<int64_t> epoch;  // JOB_ASSIGN.epoch, carried into the result
  pid_t pid = 0;
  exec::UniqueFd pidfd;
  std::vector<exec::UniqueFd> output;  // read ends of its stdout/stderr pipes (none for a file)
};

// The socket messages: "run <attempt> <epoch or -> <pid> <id>" with the pidfd (and the output pipes)
// attached, "acked <attempt> <id>" (the broker recorded that run's result: no longer watched), and
// "grace <ms>" (how long runs may finish after the worker's death). Pure.
std::string EncodeWatchedRun(const std::string& id, int64_t attempt, std::optional<int64_t> epoch, pid_t pid);
std::string EncodeAcked(const std::string& id, int64_t attempt);
// Error: not a "run" message (the pidfd is then closed by the caller).
Result<WatchedRun> DecodeWatchedRun(const std::string& text);

// Worker side: sends a run with duplicates of `pidfd` and of its output pipes' read ends (`output`:
// entries < 0 are skipped) without blocking. An error (the reaper is gone, or its socket is full) costs
// only that run's protection; the caller logs it.
Status SendRun(int socket, const std::string& id, int64_t attempt, std::optional<int64_t> epoch, pid_t pid,
               int pidfd, std::initializer_list<int> output = {});
// Worker side: the broker acknowledged that run's result. An error only leaves it watched: reported again
// if the worker dies, which the broker ignores (a stale result).
Status SendAcked(int socket, const std::string& id, int64_t attempt);

// How long a dead worker's reaper lets its runs finish under a broker beating every
// `heartbeat_ms` with the fencing lease `lease_ms` (0: none): half the least time the broker waits after the
// worker's death before it requeues them itself (its lease plus half a beat after their last contact,
// which was at most a beat before the death), so that the reaper's report comes first; at most 5 s.
int64_t RunsGraceMs(int64_t heartbeat_ms, int64_t lease_ms);

// Worker side: if the worker dies, its runs get `ms` to finish (RunsGraceMs), from the last WORKER_WELCOME.
Status SendGrace(int socket, int64_t ms);

// Reaper side: the runs received and not acknowledged since, at most kMaxWatched (the oldest dropped
// first, their pidfds closed).
class WatchedRuns {
 public:
  static constexpr size_t kMaxWatched = 512;
  static constexpr size_t kMaxOutput = 2;  // stdout, stderr

  // Reads every message waiting on `socket` without blocking. Returns false once the worker's end is
  // closed (or the socket failed), true while it is open.
  bool Receive(int socket);
  const std::deque<WatchedRun>& runs() const { return runs_; }
  std::optional<int64_t> grace_ms() const { return grace_ms_; }  // the last SendGrace; none yet: nullopt

 private:
  std::deque<WatchedRun> runs_;
  std::optional<int64_t> grace_ms_;
};

// Reaper side, once the worker is gone: waits until every watched leader has exited, or `deadline`
// passes, meanwhile reading and dropping what the runs write to their pipes (a full pipe would block
// them; one without a reader would kill them). Returns how many were still running at the deadline.
size_t LetRunsFinish(const WatchedRuns& watched, std::chrono::steady_clock::time_point deadline);

// How a watched leader ended, as a wait status (WIFEXITED, ...), if it has: from the kernel's exit record
// of a reaped process (PIDFD_GET_INFO, Linux 6.15+), else from the zombie's /proc/<pid>/stat while it is
// unreaped (checked against the pidfd, so a reused pid is never read). nullopt: still running, or no
// longer knowable. Never blocks.
std::optional<int> ExitOf(const WatchedRun& run);

// The results to report for runs whose leaders ended with these wait statuses: those that exited on
// their own (WIFEXITED, any code), each marked log_truncated (what the worker had not read or sent of its
// output is missing from the broker's copy); one killed by a signal may have been killed by the worker's
// death, so it is not reported and the run is requeued. Pure.
std::vector<wire::JobResult> ResultsOf(const std::vector<std::pair<const WatchedRun*, int>>& ended);

}  // namespace titan::worker
