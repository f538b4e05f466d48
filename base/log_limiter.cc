// Per-peer log rate limit (see log_limiter.h).
#include "base/log_limiter.h"

namespace titan {

LogLimiter::Verdict LogLimiter::Admit(const std::string& peer, int64_t now_ms) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) {
    if (options_.max_peers == 0) return Verdict{.log = true};
    if (peers_.size() >= options_.max_peers) {
      peers_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(peer);
    it = peers_.emplace(peer, Peer{.window_start = now_ms}).first;
  }
  Peer& p = it->second;
  Verdict v;
  if (now_ms - p.window_start >= options_.window_ms) {
    v.suppressed = p.suppressed;
    p = Peer{.window_start = now_ms};
  }
  if (p.logged < options_.burst) {
    ++p.logged;
    v.log = true;
  } else {
    ++p.suppressed;
  }
  return v;
}

std::string PrintablePeer(std::string_view id) {
  bool printable = !id.empty();
  for (char c : id) printable = printable && c > 0x20 && c < 0x7f;
  if (printable) return std::string(id);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char c : id) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

}  // namespace titan
