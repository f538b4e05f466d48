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

// The wall clock's offset from the monotonic one in whole ms, given the one seen before: `previous`
// while `measured` agrees with it within 1 ms (two clocks read one after the other and each cut to
// whole ms differ by the offset or by one more), else `measured` (the wall clock was set).
constexpr int64_t SteadyOffset(int64_t previous, int64_t measured) {
  return measured - previous >= -1 && measured - previous <= 1 ? previous : measured;
}

// Both clocks, read now. wall_ms is mono_ms plus the clocks' offset as last seen (SteadyOffset), so the
// wall_ms of two Instants differ exactly as their mono_ms do unless the wall clock was set between
// them: a deadline met on the monotonic clock is met on the stored wall times too (a 1500 ms delay
// shows as >= 1500 ms between a job's submitted_ms and started_ms). wall_ms is within ~1 ms of the
// wall clock. Each thread keeps its own offset.
// The wall clock is read between two monotonic readings, and a measurement counts only when they are
// at most 1 ms apart: a thread descheduled between the reads (a loaded machine) would otherwise look
// like a wall clock that was set. After a few wide readings in a row the offset seen before is kept.
inline Instant Now() {
  thread_local int64_t offset = INT64_MIN;
  for (int tries = 0;; ++tries) {
    const int64_t mono = MonoMs();
    const int64_t wall = WallMs();
    const int64_t after = MonoMs();
    const bool tight = after - mono <= 1;
    if (!tight && tries < 3) continue;
    if (tight || offset == INT64_MIN)
      offset = offset == INT64_MIN ? wall - mono : SteadyOffset(offset, wall - mono);
    return Instant{mono, mono + offset};
  }
}

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
