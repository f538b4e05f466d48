// Exponential backoff, the one copy: `first_ms` for the first retry, doubling each time, at most
// `max_ms`. Used for job retries (broker), service restarts and broker reconnects (worker).
#pragma once

#include <algorithm>
#include <cstdint>

namespace titan {

// The delay before retry number `retry` (1 = the first): first_ms * 2^(retry-1), capped at max_ms.
// A retry below 1 counts as the first.
constexpr int64_t BackoffMs(int64_t retry, int64_t first_ms, int64_t max_ms) {
  int64_t delay = first_ms;
  for (int64_t i = 1; i < retry && delay < max_ms; ++i) delay *= 2;
  return std::min(delay, max_ms);
}

static_assert(BackoffMs(1, 500, 30000) == 500 && BackoffMs(3, 500, 30000) == 2000);
static_assert(BackoffMs(60, 500, 30000) == 30000 && BackoffMs(0, 250, 5000) == 250);

}  // namespace titan
