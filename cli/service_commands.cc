// `titan deploy FILE --port P`: run a script as a long-running service (restarted when it exits,
// RUNNING once its port accepts connections). `titan services`: services with worker, port, uptime
// and restarts.
#include <iostream>

#include "broker_client.h"
#include "commands.h"
#include "job_view.h"
#include "run_job.h"

namespace titan::cli {
namespace {

int ListServices(const Target& target, bool all, bool json) {
  wire::Message request = wire::MakeMessage(wire::MsgType::kJobList)
                              .Set("limit", wire::Datum(int64_t{10000}))
                              .Set("job_type", wire::Datum(wire::Text{"SERVICE"}));
  BrokerClient broker(target);
  wire::Message reply;
  if (const int rc = broker.Call(request, wire::MsgType::kJobListReply, &reply); rc != kExitOk) return rc;
  std::vector<JobView> services;
  for (const wire::Datum& j : std::get<wire::List>(reply.Find("jobs")->v)) {
    JobView v = JobFromDatum(j);
    if (all || !IsFinalState(v.state)) services.push_back(std::move(v));
  }
  std::cout << (json ? RenderJobsJson(services) : RenderServiceTable(services, NowMs()));
  return kExitOk;
}

}  // namespace

void AddServiceCommands(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<RunArgs>();
  auto restarts = std::make_shared<int64_t>(5);
  CLI::App* deploy =
      app.add_subcommand("deploy", "Run a script as a long-running service, kept alive by Titan");
  deploy->footer(
      "The service is restarted with exponential backoff when it exits, and FAILED after\n"
      "--max-restarts crashes in a row. It counts as ready (and jobs that depend on it may start)\n"
      "once its port accepts connections, or --health-cmd exits 0. `titan stop ID` ends it for good.\n"
      "FILE is read here, or names a script deployed with `titan deploy-script`; with --archive,\n"
      "FILE is <project>.zip/<entry> of a project uploaded with `titan upload DIR`.");
  deploy->add_option("FILE", a->file, "the service's script")->required();
  deploy->add_option("ARGS", a->args, "arguments passed to it");
  deploy->add_option("--port", a->port, "the port it listens on (readiness is checked there)")
      ->check(CLI::Range(0, 65535));
  deploy->add_option("--id", a->id, "service id (default: <file stem>-<8 random hex digits>)");
  deploy->add_option("--health-cmd", a->health_cmd, "shell command whose exit 0 means healthy");
  auto* max_restarts = deploy
                           ->add_option("--max-restarts", *restarts,
                                        "crashes in a row before it is reported FAILED (default 5)")
                           ->check(CLI::Range(0, 1000));
  deploy->add_option("--requirement", a->requirement, "capability a worker must have (GENERAL, GPU, a tag)");
  deploy->add_option("--env", a->env, "NAME=value added to its environment (repeatable)")->take_all();
  deploy->add_flag("--archive", a->archive, "FILE is <project>.zip/<entry> in a deployed project");
  const Target* t = &target;
  deploy->callback([=] {
    a->job_type = "SERVICE";
    a->max_restarts = max_restarts->count() ? std::optional(*restarts) : std::nullopt;
    *exit_code = RunJob(*t, *a);
  });

  auto all = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  CLI::App* list =
      app.add_subcommand("services", "List services: state, readiness, worker, port, uptime, restarts");
  list->add_flag("--all", *all, "also services that ended (stopped or failed)");
  list->add_flag("--json", *json, "print JobInfo objects as JSON");
  list->callback([=] { *exit_code = ListServices(*t, *all, *json); });
}

}  // namespace titan::cli
