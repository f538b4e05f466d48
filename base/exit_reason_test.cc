// ExitReason: one table of (exit code, signal) and the sentence shown for it.
#include "base/exit_reason.h"

#include <gtest/gtest.h>

namespace titan {
namespace {

TEST(ExitReason, RendersExitCodesSignalsAndTheUnknown) {
  struct Row {
    int64_t exit_code, signal;
    const char* want;
  } const rows[] = {
      {0, 0, "exit code 0"},
      {3, 0, "exit code 3"},
      {255, 0, "exit code 255"},
      {-1, 9, "killed by SIGKILL (signal 9)"},
      {-1, 15, "killed by SIGTERM (signal 15)"},
      {-1, 11, "killed by SIGSEGV (signal 11)"},
      {-1, 77, "killed by signal 77"},            // no name
      {-1, 1 << 20, "killed by signal 1048576"},  // nonsense from a peer does not crash
      {-1, 0, "exit status unknown"},
      {-7, -3, "exit status unknown"},
      {2, 9, "killed by SIGKILL (signal 9)"},  // a signal wins
  };
  for (const Row& r : rows) {
    EXPECT_EQ(r.want, ExitReason(r.exit_code, r.signal)) << r.exit_code << "/" << r.signal;
  }
}

}  // namespace
}  // namespace titan
