// `titan logs ID [-f]`: a job's combined stdout+stderr as raw bytes; -f follows it until the job ends.
#include <cstdio>

#include "broker_client.h"
#include "commands.h"
#include "job_view.h"
#include "log_follow.h"

namespace titan::cli {

void AddLogsCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("logs", "Print a job's output (stdout and stderr, as it was written)");
  cmd->add_option("ID", *id, "job id (or DAG-<id>)")->required();
  cmd->add_flag("--follow,-f", *follow, "keep printing new output until the job has ended");
  const Target* t = &target;
  cmd->callback([=] {
    BrokerClient broker(*t);
    wire::Datum job;
    *exit_code = broker.GetJob(*id, &job);  // also resolves DAG-<id> to the id the log is kept under
    if (*exit_code == kExitOk) *exit_code = CopyJobLog(broker, JobFromDatum(job).id, *follow, stdout);
  });
}

}  // namespace titan::cli
