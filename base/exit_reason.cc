// ExitReason: the one rendering of (exit code, signal).
#include "base/exit_reason.h"

#include <string.h>  // sigabbrev_np (glibc >= 2.32)

namespace titan {

std::string ExitReason(int64_t exit_code, int64_t signal) {
  if (signal > 0) {
    const char* abbrev = signal < 1024 ? sigabbrev_np(static_cast<int>(signal)) : nullptr;
    if (abbrev == nullptr) return "killed by signal " + std::to_string(signal);
    return std::string("killed by SIG") + abbrev + " (signal " + std::to_string(signal) + ")";
  }
  if (exit_code < 0) return "exit status unknown";
  return "exit code " + std::to_string(exit_code);
}

}  // namespace titan
