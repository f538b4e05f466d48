// Uploads to the broker's artifact registry as the CLI shows them: a progress line on a terminal, one
// summary line, and a failure as one "titan: ..." line with its exit code. Shared by `titan upload`,
// `titan deploy-script`, `titan artifacts get` and the pipelines that deploy a project
// (`titan submit`, `titan schedule add`). Single-threaded, like ArtifactTransfer.
#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

#include "cli/artifact_transfer.h"
#include "cli/commands.h"
#include "cli/pipeline.h"

namespace titan::cli {

// The exit code for a transfer outcome (kExitOk when it succeeded).
int TransferExitCode(const TransferStatus& s);
// Prints "titan: <message>" on stderr and returns TransferExitCode(s).
int ReportTransferFailure(const TransferStatus& s);

// Transfer options for `target` (several brokers: the leader, asked once before the transfer; a failover
// during the transfer fails it). `cancel_fd` (a SignalWatch's fd, or -1 for none) stops a transfer
// when it becomes readable. Also keeps 1 MiB chunk buffers in the heap (process-wide, see the .cc).
TransferOptions TransferOptionsFor(const Target& target, int cancel_fd);

// The progress line on stderr, redrawn in place (\r) at most every 100 ms, only when stderr is a
// terminal and `quiet` is off. Also times the transfer phase for the summary line.
class ProgressLine {
 public:
  ProgressLine(bool quiet, std::string what);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void Update(TransferPhase phase, int64_t done, int64_t total);
  ProgressFn Fn();
  // Seconds since the last phase began (the transfer itself, once hashing is over).
  double PhaseSeconds() const;
  void Clear();

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  std::string what_;
  TransferPhase phase_ = TransferPhase::kHashing;
  bool started_ = false, drawn_ = false;
  Clock::time_point phase_start_, last_draw_;
};

// What to upload and how to report it.
struct UploadRequest {
  std::string space;  // "uploads" or "perm_files"
  std::string name;   // a valid registry name (artifacts::ValidateName)
  bool quiet = false;
  int cancel_fd = -1;
  std::string note;  // appended to the summary line, e.g. "(folder proj)"
};

// Uploads the regular file `file` as request.space/request.name and prints the summary line on `out`.
// Returns an exit code (failures printed on stderr).
int UploadFile(const Target& target, const std::string& file, const UploadRequest& request,
               std::ostream& out);

// Zips the folder `folder` in a temporary folder (artifacts::PackFolder: what a worker unpacks) and
// uploads the zip as request.space/request.name (a name ending in .zip), as UploadFile does.
int UploadFolder(const Target& target, const std::string& folder, const UploadRequest& request,
                 std::ostream& out);

// Zips the pipeline's project folder and uploads it as perm_files/<project name> when the pipeline
// has a project (Pipeline::project); the summary line goes to stderr, so stdout stays the command's
// own. No cancel fd: Ctrl-C ends the process as usual and the broker drops the unfinished upload.
int DeployPipelineProject(const Target& target, const Pipeline& pipeline);

}  // namespace titan::cli
