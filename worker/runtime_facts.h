// RuntimeFacts: what a worker tells the broker about each of its runtimes when it registers
// (WORKER_READY.runtime_info): the bytes of its files and, for an environment, its installed Python
// distributions. Measured once at start; reads the file system only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "schemas/generated/messages.h"
#include "worker/runtimes.h"

namespace titan::exec {

// Entries walked at most for one runtime's size; past it the size is unknown (absent), not a guess.
inline constexpr int64_t kMaxRuntimeEntries = 200'000;
// Distributions reported at most per runtime (the first, sorted).
inline constexpr size_t kMaxRuntimePackages = 2000;

// `runtime`'s facts: size_bytes (an environment: every regular file under its directory, links not
// followed, unreadable parts skipped; an interpreter: its file), and for an environment the
// "name==version" of each *.dist-info under lib*/python*/site-packages, sorted.
wire::RuntimeInfo MeasureRuntime(const Runtime& runtime, int64_t max_entries = kMaxRuntimeEntries);

// "numpy-1.26.4.dist-info" -> "numpy==1.26.4"; "" when the name is not NAME-VERSION.dist-info.
std::string DistributionOf(const std::string& dist_info_dir);

}  // namespace titan::exec
