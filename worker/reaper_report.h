// ReportResults: a killed worker's reaper tells the broker how the runs that ended before the worker could
// report them ended (reaper_runs.h). It registers under the worker's name, already draining (so it is sent
// no jobs), with those results as the worker's unacknowledged ones and no running runs: the broker applies
// the results and requeues the worker's other runs, as for a worker that restarted without them. It
// returns once every result is acknowledged; the registration then lapses with its heartbeats.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "schemas/generated/messages.h"
#include "security/credential.h"

namespace titan::worker {

struct ReportTarget {
  std::string worker;  // the dead worker's name
  std::string host;    // its broker(s), as the worker was given them (`--host`)
  int port = 0;
  int heartbeat_ms = 1000;
  std::optional<security::Credential> credential;  // the worker's: the name belongs to its principal
};

// Error: the broker did not acknowledge every result within `deadline` (named), which leaves those runs to
// be requeued when the broker finds the worker gone.
Status ReportResults(const ReportTarget& target, std::vector<wire::JobResult> results,
                     std::chrono::milliseconds deadline);

}  // namespace titan::worker
