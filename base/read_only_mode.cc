// Entering and leaving read-only mode (see read_only_mode.h).
#include "base/read_only_mode.h"

namespace titan {

ReadOnlyMode::ReadOnlyMode(std::string node)
    : node_(std::move(node)),
      limiter_(LogLimiter::Options{.window_ms = 3'600'000, .burst = kLoggedPerHour, .max_peers = 1}) {}

std::string ReadOnlyMode::Refusal() const {
  return "disk full on the " + node_ + " (" + dir_ + "); free space there, Titan resumes by itself";
}

std::string ReadOnlyMode::Enter(const Status& cause, std::string dir, int64_t mono_ms, int64_t wall_ms) {
  if (active_) return {};
  active_ = true;
  dir_ = std::move(dir);
  cause_ = cause.message();
  since_mono_ms_ = mono_ms;
  since_wall_ms_ = wall_ms;
  const LogLimiter::Verdict v = limiter_.Admit(node_, mono_ms);
  logged_ = v.log;
  if (!logged_) return {};
  std::string line = node_ + ": disk full (" + cause_ +
                     "); read-only from now: writes are refused, reads are " + "served; free space in " +
                     dir_ + " and writes resume by themselves";
  if (v.suppressed > 0) {
    line += " (" + std::to_string(v.suppressed) + " earlier entries into read-only mode were not logged)";
  }
  return line;
}

std::string ReadOnlyMode::Leave(int64_t mono_ms) {
  if (!active_) return {};
  active_ = false;
  cause_.clear();
  if (!logged_) return {};
  return node_ + ": space is back in " + dir_ + " after " +
         std::to_string((mono_ms - since_mono_ms_) / 1000) + " s read-only; writes resume";
}

}  // namespace titan
