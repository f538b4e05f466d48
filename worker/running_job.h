// RunningJob: one job run on this worker — its process group, its captured output and the log
// chunks not yet sent to the broker. StartJob prepares titan_workspace/jobs/<id>/ and spawns it.
// Owned and used only by the worker loop.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.h"
#include "codec.h"
#include "interpreter.h"
#include "output_capture.h"

namespace titan::worker {

// What every job's process gets from the worker.
struct JobContext {
  std::string jobs_dir;    // titan_workspace/jobs
  std::string shared_dir;  // titan_workspace/shared
  std::string broker_host;
  int broker_port = 0;
  exec::Toolchain tools;
  std::vector<std::string> base_env;  // the worker's own environment
};

struct LogChunk {
  exec::Stream stream;
  std::string bytes;  // whole lines
};

struct RunningJob {
  std::string id;
  int64_t attempt = 0;
  std::optional<exec::ChildProcess> child;  // set once spawned
  std::unique_ptr<exec::JobLog> log;
  std::unique_ptr<exec::OutputCapture> out, err;
  int64_t timeout_at = 0;  // epoch ms; 0: no timeout
  int64_t kill_at = 0;     // epoch ms of the SIGKILL after a SIGTERM; 0: not stopping
  bool cancelled = false;  // ended by JOB_CANCEL
  std::string end_reason;  // set when the worker ended it (timeout, cancel, shutdown)
  std::optional<exec::ExitStatus> exit;
  std::vector<LogChunk> pending;  // output not yet sent as JOB_LOG
  int64_t next_seq = 0;

  int64_t drain_until = 0;        // epoch ms: after the leader exited, wait for EOF until then
  bool output_abandoned = false;  // EOF never came (a process escaped the group with the pipes)

  bool output_done() const { return output_abandoned || ((!out || out->eof()) && (!err || err->eof())); }
  // Starts SIGTERM -> grace -> SIGKILL of the group (idempotent).
  void Stop(int64_t now, int64_t grace_ms, std::string reason, bool by_cancel);
};

// Writes the script into jobs/<id>/, chooses its interpreter and spawns it. Errors (bad args, missing
// interpreter, unwritable workspace) come back as a readable message for the JobResult.
exec::Result<std::unique_ptr<RunningJob>> StartJob(const wire::Message& assign, const JobContext& ctx, int64_t now);

// The JobResult struct of the protocol for a finished run.
wire::Datum ResultOf(const RunningJob& job);
// A JobResult for a run that never started.
wire::Datum FailedStart(const std::string& id, int64_t attempt, const std::string& reason);

// A file-system-safe name for a job id (letters, digits, '-', '_', '.'; the rest as %XX).
std::string SafeName(const std::string& id);

}  // namespace titan::worker
