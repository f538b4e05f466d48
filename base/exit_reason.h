// How a process ended, in words, the one copy: the worker's job results and service restarts, the
// broker's reasons for failed jobs and `titan up`'s reports of its nodes all render it here.
#pragma once

#include <string.h>

#include <cstdint>
#include <string>

namespace titan {

// (exit code, signal) -> "exit code 3", or "killed by SIGKILL (signal 9)" when `signal` is not 0
// ("killed by signal 77" for a number without a name).
inline std::string ExitReason(int64_t exit_code, int64_t signal) {
  if (signal == 0) return "exit code " + std::to_string(exit_code);
  const char* abbrev = signal > 0 && signal < 1024 ? sigabbrev_np(static_cast<int>(signal)) : nullptr;
  if (abbrev == nullptr) return "killed by signal " + std::to_string(signal);
  return std::string("killed by SIG") + abbrev + " (signal " + std::to_string(signal) + ")";
}

}  // namespace titan
