// Clocks, the one copy. Relative deadlines (heartbeat liveness, timeouts, kill grace, backoff,
// readiness) use the monotonic clock, which never jumps; the wall clock is for stored timestamps
// (what users see, what the journal keeps) and for deadlines that must survive a restart.
#pragma once

#include <chrono>
#include <cstdint>

namespace titan {

// Milliseconds of CLOCK_MONOTONIC: only differences mean anything.
inline int64_t MonoMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Unix epoch milliseconds (CLOCK_REALTIME): may jump when the clock is set.
inline int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One reading of both clocks, handed to a core each loop turn.
struct Instant {
  int64_t mono_ms = 0;
  int64_t wall_ms = 0;
};

inline Instant Now() { return Instant{MonoMs(), WallMs()}; }

}  // namespace titan
