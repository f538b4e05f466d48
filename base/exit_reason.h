// How a process ended, as the one sentence every component shows: the broker's job reason, the
// worker's ExitStatus and service restarts, `titan up`'s reports of its nodes, the CLI's outcome line.
// The arguments are those of the wire's JobResult.
#pragma once

#include <cstdint>
#include <string>

namespace titan {

// "exit code 3" (and "exit code 0"), "killed by SIGKILL (signal 9)", "killed by signal 77" for a
// signal without a name, "exit status unknown" when neither is known (exit_code < 0 and signal 0:
// never started, or lost). `signal` > 0 wins over `exit_code` (the wire sends exit_code -1 with a
// signal).
std::string ExitReason(int64_t exit_code, int64_t signal);

}  // namespace titan
