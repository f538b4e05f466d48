// The runs a worker's reaper watches, so that a run whose process exited just before its worker was killed
// is reported as it ended instead of running again. The worker hands the reaper a pidfd of each run's
// leader as it starts it (SendRun, over a SOCK_SEQPACKET socketpair, SCM_RIGHTS); the reaper keeps the
// last kMaxWatched (WatchedRuns). When the worker is gone, the exit status of a leader that had exited
// (ExitOf: the kernel's record of a reaped process, Linux 6.15+, or a zombie's /proc entry) becomes the
// run's result (ResultsOf), which the reaper reports to the broker (reaper_report.h).
// Only leaders that exited on their own count: the worker's death kills the others (their parent-death
// signal), and those runs are requeued as before.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
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
};

// The socket messages: "run <attempt> <epoch or -> <pid> <id>" with the pidfd attached, and
// "acked <attempt> <id>" (the broker recorded that run's result: no longer watched). Pure.
std::string EncodeWatchedRun(const std::string& id, int64_t attempt, std::optional<int64_t> epoch, pid_t pid);
std::string EncodeAcked(const std::string& id, int64_t attempt);
// Error: not a "run" message (the pidfd is then closed by the caller).
Result<WatchedRun> DecodeWatchedRun(const std::string& text);

// Worker side: sends a run with a duplicate of `pidfd` without blocking. An error (the reaper is gone,
// or its socket is full) costs only that run's protection; the caller logs it.
Status SendRun(int socket, const std::string& id, int64_t attempt, std::optional<int64_t> epoch, pid_t pid,
               int pidfd);
// Worker side: the broker acknowledged that run's result. An error only leaves it watched: reported again
// if the worker dies, which the broker ignores (a stale result).
Status SendAcked(int socket, const std::string& id, int64_t attempt);

// Reaper side: the runs received and not acknowledged since, at most kMaxWatched (the oldest dropped
// first, their pidfds closed).
class WatchedRuns {
 public:
  static constexpr size_t kMaxWatched = 512;

  // Reads every message waiting on `socket` without blocking. Returns false once the worker's end is
  // closed (or the socket failed), true while it is open.
  bool Receive(int socket);
  const std::deque<WatchedRun>& runs() const { return runs_; }

 private:
  std::deque<WatchedRun> runs_;
};

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
