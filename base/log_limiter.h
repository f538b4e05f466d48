// Rate limit for log lines about one peer's bad input, so a misbehaving peer cannot flood the log.
// No clock inside: the caller passes the time. Not thread-safe (one per loop).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace titan {

// Per peer, the first `burst` lines of each `window_ms` are logged and the rest only counted; the
// count is handed back once, with the peer's first line of a later window, for one summary line.
// Memory is bounded: at most `max_peers` peers are tracked, and a new one evicts the longest tracked
// (whose withheld count is then lost, never logged).
class LogLimiter {
 public:
  struct Options {
    int64_t window_ms = 60'000;
    int64_t burst = 10;
    size_t max_peers = 1024;
  };
  // What to do with one line about `peer`: log it or not, and how many of its lines were withheld
  // before (non-zero at most once per window: log "<n> more ... suppressed" first).
  struct Verdict {
    bool log = false;
    int64_t suppressed = 0;
  };

  LogLimiter() : LogLimiter(Options{}) {}
  explicit LogLimiter(Options options) : options_(options) {}

  Verdict Admit(const std::string& peer, int64_t now_ms);
  size_t tracked() const { return peers_.size(); }
  const Options& options() const { return options_; }

 private:
  struct Peer {
    int64_t window_start = 0;
    int64_t logged = 0;
    int64_t suppressed = 0;
  };
  Options options_;
  std::unordered_map<std::string, Peer> peers_;
  std::deque<std::string> order_;  // the tracked peers, oldest first
};

// A routing id or other peer name fit for a log line: printable ASCII as it is, anything else in hex.
std::string PrintablePeer(std::string_view id);

}  // namespace titan
