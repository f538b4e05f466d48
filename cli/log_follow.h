// Copying a job's log (its combined stdout+stderr, as the broker keeps it) to a stream, once or
// following it until the job has ended. Used by `titan logs [-f]` and `titan run --wait`; and the tail
// of a log, for `titan submit --wait` reporting a failed job.
#pragma once

#include <cstdio>
#include <functional>
#include <string>

#include "cli/broker_client.h"
#include "schemas/generated/messages.h"

namespace titan::cli {

// Called with each EVENT_JOB of the followed job (state changes), in order.
using JobEventFn = std::function<void(const wire::EventJobMsg& event)>;

// Writes the log of job `id` (a resolved id, not "DAG-...") from offset 0 to `out`, in chunks of at
// most 1 MiB. Without `follow`, stops at the end of what the broker has now. With `follow`, keeps
// writing until the broker reports the log complete (the job ended): new output is pushed on the
// broker's PUB socket ("log.<id>", "job.<id>"), de-duplicated by offset, with JOB_LOGS filling any
// gap; without a PUB socket it falls back to JOB_LOGS after each JOB_WAIT. Returns an exit code
// from commands.h (errors already printed).
int CopyJobLog(BrokerClient& broker, const std::string& id, bool follow, std::FILE* out,
               const JobEventFn& on_job_event = nullptr);

// The end of job `id`'s log: its last `max_bytes` bytes at most (fewer when the log is shorter), starting
// at a line boundary when the log was longer. Finds the log's size by probing single bytes (doubling,
// then halving), so a large log is not transferred. Returns an exit code (errors already printed).
int ReadLogTail(BrokerClient& broker, const std::string& id, size_t max_bytes, std::string* tail);

}  // namespace titan::cli
