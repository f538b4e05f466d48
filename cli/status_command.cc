// `titan status ID`: one job in detail (ID may be DAG-<id>; the broker resolves it).
#include <iostream>

#include "broker_client.h"
#include "commands.h"
#include "job_view.h"

namespace titan::cli {

void AddStatusCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto id = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("status", "Show one job: state, worker, attempt, exit code, reason, times");
  cmd->add_option("ID", *id, "job id (or DAG-<id>)")->required();
  const Target* t = &target;
  cmd->callback([=] {
    BrokerClient broker(*t);
    wire::Datum job;
    *exit_code = broker.GetJob(*id, &job);
    if (*exit_code == kExitOk) std::cout << RenderJobStatus(JobFromDatum(job), NowMs());
  });
}

}  // namespace titan::cli
