// Submitting one job from flags, shared by `titan run` and `titan deploy`: reads the script (or
// names a deployed one), submits it, prints its id, and with args.wait follows it to the end.
#pragma once

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"
#include "cli/submit.h"

namespace titan::cli {

// Returns the command's exit code (commands.h).
int RunJob(const Target& target, RunArgs args);

// JOB_WAIT on job `id` until it is final or, a service, up (RUNNING and ready), as JOB_WAIT answers; its
// JobInfo then in *job. kExitNotFound (printed) when the broker no longer knows it.
int WaitForJob(BrokerClient& broker, const std::string& id, JobView* job);

// A duration option (--delay, --timeout; duration.h) into *ms when it was given. False, with the error
// printed, when its value is not a duration.
bool DurationOption(const CLI::Option& option, const std::string& text, std::optional<int64_t>* ms);

}  // namespace titan::cli
