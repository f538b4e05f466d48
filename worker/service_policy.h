// The rules a worker keeps a SERVICE job alive by, as pure functions over numbers and exit statuses:
// restart backoff, the crash-loop limit, when crashes are forgiven, how often readiness is probed.
// No clock, no process: the worker loop (service.h) applies them; tests drive them with tables.
#pragma once

#include <cstdint>
#include <string>

#include "worker/child_process.h"

namespace titan::worker {

inline constexpr int kDefaultMaxRestarts = 5;      // JobSpec.max_restarts when absent
inline constexpr int64_t kFirstBackoffMs = 500;    // the wait before the first restart
inline constexpr int64_t kMaxBackoffMs = 30000;    // the longest wait between restarts
inline constexpr int64_t kStableMs = 30000;        // ready this long: earlier crashes are forgiven
inline constexpr int64_t kReadyTimeoutMs = 60000;  // not ready this long after a start: restarted
inline constexpr int kUnhealthyAfter = 3;  // failed probes in a row that make a ready service unhealthy
inline constexpr int64_t kCommandProbeTimeoutMs = 5000;  // a health_cmd running longer is killed (a failure)
inline constexpr int64_t kConnectProbeTimeoutMs = 1000;  // a TCP connect pending longer is a failure

// How readiness is checked: health_cmd if given, else a TCP connect to the port, else not at all
// (ready as soon as spawned).
enum class ProbeKind { kNone, kConnect, kCommand };
ProbeKind ProbeKindFor(int port, const std::string& health_cmd);

// Milliseconds between probe starts: a health_cmd every 1 s; a connect every 250 ms until the service
// is ready, then every 1 s; 0 for kNone.
int64_t ProbeIntervalMs(ProbeKind kind, bool ready);

// The wait before restart number `crashes` (consecutive exits so far, >= 1): 500 ms * 2^(crashes-1),
// capped at 30 s.
int64_t RestartDelayMs(int crashes);

// True when a service that became ready at `ready_since` and lost readiness (or exited) at `lost_at`
// was ready continuously long enough (kStableMs) for its earlier crashes to be forgiven.
bool WasStable(int64_t ready_since, int64_t lost_at);

// How a run ended, in the two phrasings reasons use. `stopped_because` is the worker's reason when
// the worker stopped the run itself (unhealthy); empty when the process ended on its own.
struct RunEnd {
  std::string phrase;  // "exited with code 1", "killed by SIGSEGV (signal 11)", "health check failed 3 times"
  std::string last;    // "exit code 1", "killed by SIGSEGV (signal 11)", "health check failed 3 times"
};
RunEnd DescribeRunEnd(const exec::ExitStatus& status, const std::string& stopped_because);

// What to do after a run ended by itself (or was stopped as unhealthy): restart after a delay, or
// give up once the consecutive exits exceed max_restarts (negative counts as 0).
struct AfterExit {
  bool give_up = false;
  int crashes = 0;       // consecutive exits including this one
  int64_t delay_ms = 0;  // when restarting
  // "exited with code 1; restarting in 1000 ms", or "crash loop: exited 6 times in a row (last: exit code 1)"
  std::string reason;
};
// `crashes` counts consecutive exits before this one (already reset when the run was stable).
AfterExit DecideAfterExit(int crashes, int max_restarts, const RunEnd& end);

}  // namespace titan::worker
