// CPU lists as Linux writes them (cpuset.cpus, Cpus_allowed_list): "0-1", "2,4", "0-3,8". Shared by the
// broker's validation of JobSpec.cpu_cores and the worker's pinning.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace titan {

// The largest CPU number a list may name (Linux's NR_CPUS ceiling).
inline constexpr int kMaxCpuNumber = 8191;

// The CPUs `text` names, ascending and without repeats. Error (the message quotes `text` and says
// what is wrong): empty, a part that is not N or N-M, M < N, a number above kMaxCpuNumber.
Result<std::vector<int>> ParseCpuList(const std::string& text);

}  // namespace titan
