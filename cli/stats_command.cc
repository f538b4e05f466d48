// `titan stats`: cluster health: workers with their load and running jobs, and the job queues.
#include <iostream>

#include "broker_client.h"
#include "commands.h"
#include "job_view.h"

namespace titan::cli {

void AddStatsCommand(CLI::App& app, const Target& target, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("stats", "Show workers (load, skills, running jobs) and job queues");
  const Target* t = &target;
  cmd->callback([=] {
    BrokerClient broker(*t);
    wire::Message reply;
    *exit_code = broker.Call(wire::MakeMessage(wire::MsgType::kStatsGet), wire::MsgType::kStats, &reply);
    if (*exit_code == kExitOk) std::cout << RenderStats(reply);
  });
}

}  // namespace titan::cli
