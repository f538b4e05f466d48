// Service restart policy: backoff, crash loops, forgiveness, probe cadence.
#include "worker/service_policy.h"

#include <algorithm>

#include "base/backoff.h"
#include "base/exit_reason.h"

namespace titan::worker {

ProbeKind ProbeKindFor(int port, const std::string& health_cmd) {
  if (!health_cmd.empty()) return ProbeKind::kCommand;
  if (port > 0) return ProbeKind::kConnect;
  return ProbeKind::kNone;
}

int64_t ProbeIntervalMs(ProbeKind kind, bool ready) {
  switch (kind) {
    case ProbeKind::kNone:
      return 0;
    case ProbeKind::kConnect:
      return ready ? 1000 : 250;
    case ProbeKind::kCommand:
      return 1000;
  }
  return 0;
}

int64_t RestartDelayMs(int crashes) { return BackoffMs(crashes, kFirstBackoffMs, kMaxBackoffMs); }

bool WasStable(int64_t ready_since, int64_t lost_at) { return lost_at - ready_since >= kStableMs; }

RunEnd DescribeRunEnd(const exec::ExitStatus& status, const std::string& stopped_because) {
  if (!stopped_because.empty()) return {stopped_because, stopped_because};
  if (status.kind == exec::ExitStatus::Kind::kExited) {
    return {"exited with code " + std::to_string(status.code), ExitReason(status.code, 0)};
  }
  return {status.Render(), status.Render()};  // "killed by SIGSEGV (signal 11)", "exit status unknown"
}

AfterExit DecideAfterExit(int crashes, int max_restarts, const RunEnd& end) {
  AfterExit out;
  out.crashes = crashes + 1;
  if (out.crashes > std::max(0, max_restarts)) {
    out.give_up = true;
    out.reason = "crash loop: exited " + std::to_string(out.crashes) +
                 (out.crashes == 1 ? " time" : " times") + " in a row (last: " + end.last + ")";
    return out;
  }
  out.delay_ms = RestartDelayMs(out.crashes);
  out.reason = end.phrase + "; restarting in " + std::to_string(out.delay_ms) + " ms";
  return out;
}

}  // namespace titan::worker
