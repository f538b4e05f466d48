// `titan status ID`: one job in detail (ID may be DAG-<id>; the broker resolves it).
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"

namespace titan::cli {

namespace {

struct StatusArgs {
  std::string id;
  int64_t run = 0;
  bool history = false;
};

// Every run of the id, oldest first, as a table.
int ShowHistory(BrokerClient& broker, const std::string& id) {
  wire::JobInfo latest;
  int64_t runs = 1;
  if (const int rc = broker.GetJob(id, &latest, 0, &runs); rc != kExitOk) return rc;
  std::vector<JobView> views;
  for (int64_t run = 1; run < runs; ++run) {
    wire::JobInfo job;
    if (const int rc = broker.GetJob(id, &job, run); rc != kExitOk) return rc;
    views.push_back(JobFromInfo(job));
  }
  views.push_back(JobFromInfo(latest));
  std::cout << RenderJobHistory(views, WallMs());
  return kExitOk;
}

}  // namespace

void AddStatusCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<StatusArgs>();
  CLI::App* cmd =
      app.add_subcommand("status", "Show one job: state, worker, attempt, exit code, reason, times");
  cmd->footer(
      "A job id may be submitted again once every earlier job of that id has ended; each submission is\n"
      "a run. ID shows the latest run; --run N an earlier one; --history all of them.");
  cmd->add_option("ID", a->id, "job id (or DAG-<id>)")->required();
  cmd->add_option("--run", a->run, "show run N of the id (1 = the first)")->check(CLI::PositiveNumber);
  cmd->add_flag("--history", a->history, "list every run of the id, oldest first");
  const Target* t = &target;
  cmd->callback([=] {
    BrokerClient broker(*t);
    if (a->history) {
      *exit_code = ShowHistory(broker, a->id);
      return;
    }
    wire::JobInfo job;
    *exit_code = broker.GetJob(a->id, &job, a->run);
    if (*exit_code == kExitOk) std::cout << RenderJobStatus(JobFromInfo(job), WallMs());
  });
}

}  // namespace titan::cli
