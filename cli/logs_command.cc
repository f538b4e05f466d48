// `titan logs ID [-f]`: a job's combined stdout+stderr as raw bytes; -f follows it until the job ends.
#include <cstdio>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"
#include "cli/log_follow.h"

namespace titan::cli {
namespace {

constexpr int64_t kChunkBytes = 1 << 20;

// The whole log of run `run` of job `id` (an earlier run of a reused id: it has ended, so its log
// does not grow), in chunks.
int PrintRunLog(BrokerClient& broker, const std::string& id, int64_t run) {
  for (int64_t offset = 0;;) {
    wire::JobLogDataMsg reply;
    const wire::JobLogsMsg request{.id = id, .offset = offset, .max_bytes = kChunkBytes, .run = run};
    if (const int rc = broker.Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
    if (reply.blobs.empty() || reply.blobs[0].empty()) return kExitOk;
    std::fwrite(reply.blobs[0].data(), 1, reply.blobs[0].size(), stdout);
    offset = reply.next_offset;
  }
}

}  // namespace

void AddLogsCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  auto run = std::make_shared<int64_t>(0);
  CLI::App* cmd = app.add_subcommand("logs", "Print a job's output (stdout and stderr, as it was written)");
  cmd->add_option("ID", *id, "job id (or DAG-<id>)")->required();
  cmd->add_flag("--follow,-f", *follow, "keep printing new output until the job has ended");
  cmd->add_option("--run", *run, "the output of run N of a reused id (1 = the first; default: the latest)")
      ->check(CLI::PositiveNumber);
  const Target* t = &target;
  cmd->callback([=] {
    BrokerClient broker(*t);
    wire::JobInfo job;
    *exit_code = broker.GetJob(*id, &job, *run);  // also resolves DAG-<id> to the id the log is kept under
    if (*exit_code != kExitOk) return;
    // An earlier run has ended: its log is printed once (-f has nothing to follow).
    *exit_code = *run > 0 ? PrintRunLog(broker, job.id, *run) : CopyJobLog(broker, job.id, *follow, stdout);
  });
}

}  // namespace titan::cli
