// `titan stop ID` (cancel a job) and `titan shutdown WORKER` (drain a worker, then it exits).
#include <iostream>

#include "broker_client.h"
#include "commands.h"
#include "job_view.h"

namespace titan::cli {
namespace {

int StopJob(const Target& target, const std::string& id) {
  BrokerClient broker(target);
  wire::Message reply;
  const int rc =
      broker.Call(wire::MakeMessage(wire::MsgType::kJobStop).Set("id", wire::Datum(wire::Text{id})),
                  wire::MsgType::kJobInfo, &reply);
  if (rc != kExitOk) return rc;
  if (!reply.Bool("found") || !reply.Has("job")) {
    std::cerr << "titan: no job '" << id << "' (list them with `titan jobs`)\n";
    return kExitNotFound;
  }
  const JobView job = JobFromDatum(*reply.Find("job"));
  if (IsFinalState(job.state)) {
    std::cout << job.id << ' ' << job.state << '\n';
  } else {
    std::cout << job.id << " stopping (" << job.state << (job.worker.empty() ? "" : " on " + job.worker)
              << "); `titan status " << job.id << "` shows when it has ended\n";
  }
  return kExitOk;
}

int StopWorker(const Target& target, const std::string& name) {
  BrokerClient broker(target);
  wire::Message reply;
  const int rc =
      broker.Call(wire::MakeMessage(wire::MsgType::kWorkerStop).Set("name", wire::Datum(wire::Text{name})),
                  wire::MsgType::kOk, &reply);
  if (rc == kExitOk)
    std::cout << "worker " << name << " is draining: it takes no new jobs and exits after its running ones\n";
  return rc;
}

}  // namespace

void AddStopCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  auto id = std::make_shared<std::string>();
  CLI::App* stop =
      app.add_subcommand("stop", "Stop a job: a waiting one is cancelled, a running one is killed");
  stop->add_option("ID", *id, "job id (or DAG-<id>)")->required();
  stop->callback([=] { *exit_code = StopJob(*t, *id); });

  auto name = std::make_shared<std::string>();
  CLI::App* shutdown =
      app.add_subcommand("shutdown", "Retire a worker: it finishes its running jobs, then exits");
  shutdown->add_option("WORKER", *name, "worker name, as `titan stats` shows it")->required();
  shutdown->callback([=] { *exit_code = StopWorker(*t, *name); });
}

}  // namespace titan::cli
