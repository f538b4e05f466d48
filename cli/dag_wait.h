// Following a DAG until every job has ended, for `titan submit --wait`: progress on stdout, and on
// stderr the jobs to blame (reason and log tail) when it did not complete.
#pragma once

#include <string>
#include <vector>

#include "cli/broker_client.h"

namespace titan::cli {

// Follows DAG `dag_id` (whose jobs and gates are `ids`) until it is no longer RUNNING. Each refresh is a
// DAG_GET, made when the broker publishes a state change of one of `ids` (or every 2 s without one; or
// after a JOB_WAIT when the broker has no event feed). On a `terminal`, one progress line is rewritten
// in place, with gates and failures on lines of their own; otherwise one line per job state change.
// Returns kExitOk when the DAG COMPLETED, kExitFailed when it FAILED or was CANCELLED (after reporting
// the culprits), or the client error code (printed).
int WaitForDag(BrokerClient& broker, const std::string& dag_id, const std::vector<std::string>& ids,
               bool terminal);

}  // namespace titan::cli
