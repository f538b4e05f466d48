// `titan stats`: cluster health: workers with their load and running jobs, and the job queues.
// `titan json`: the same STATS reply as JSON, for scripts.
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"

namespace titan::cli {

void AddStatsCommand(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  for (const bool json : {false, true}) {
    CLI::App* cmd =
        json ? app.add_subcommand("json", "Show what `titan stats` shows, as one JSON object (STATS fields)")
             : app.add_subcommand("stats", "Show workers (load, skills, running jobs) and job queues");
    cmd->callback([=] {
      BrokerClient broker(*t);
      wire::StatsMsg stats;
      *exit_code = broker.Call(wire::StatsGetMsg{}.ToMessage(), &stats);
      if (*exit_code == kExitOk) std::cout << (json ? RenderStatsJson(stats) : RenderStats(stats));
    });
  }
  CLI::App* workers = app.add_subcommand(
      "workers",
      "Show the workers: load, skills, machine, capacity for requests (reserved/total), limits, runtimes");
  workers->callback([=] {
    BrokerClient broker(*t);
    wire::StatsMsg stats;
    *exit_code = broker.Call(wire::StatsGetMsg{}.ToMessage(), &stats);
    if (*exit_code == kExitOk) std::cout << RenderWorkerList(stats.workers);
  });
}

}  // namespace titan::cli
