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

// `from + ms`, saturating instead of overflowing (a peer may ask for a delay of INT64_MAX ms).
constexpr int64_t AddMs(int64_t from, int64_t ms) {
  if (ms > 0 && from > INT64_MAX - ms) return INT64_MAX;
  if (ms < 0 && from < INT64_MIN - ms) return INT64_MIN;
  return from + ms;
}

// The monotonic time at which the wall clock, as read in `now`, reaches `wall_ms` (now.mono_ms when
// it has already). The one conversion of a deadline that must survive a restart (kept in wall time)
// into a timer: exact unless the wall clock is set before the timer fires, so whoever arms a timer
// with it checks the wall clock again when it fires.
constexpr int64_t MonoAt(Instant now, int64_t wall_ms) {
  return wall_ms <= now.wall_ms ? now.mono_ms : AddMs(now.mono_ms, AddMs(wall_ms, -now.wall_ms));
}

static_assert(MonoAt(Instant{100, 5000}, 5600) == 700 && MonoAt(Instant{100, 5000}, 10) == 100);
static_assert(AddMs(INT64_MAX - 1, 5) == INT64_MAX && AddMs(3, 4) == 7);

}  // namespace titan
