// `titan stop ID` / `titan cancel ID` (cancel a job), `titan delete ID` (a finished job and its output leave
// the broker) and `titan shutdown WORKER` / `titan shutdown HOST PORT` (drain a worker, then it exits).
#include <unistd.h>

#include <charconv>
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"
#include "cli/worker_address.h"

namespace titan::cli {
namespace {

int StopJob(const Target& target, const std::string& id) {
  BrokerClient broker(target);
  wire::JobInfoMsg reply;
  if (const int rc = broker.Call(wire::JobStopMsg{.id = id}.ToMessage(), &reply); rc != kExitOk) return rc;
  if (!reply.found || !reply.job) {
    std::cerr << "titan: no job '" << id << "' (list them with `titan jobs`)\n";
    return kExitNotFound;
  }
  const JobView job = JobFromInfo(*reply.job);
  if (IsFinalState(job.state)) {
    std::cout << job.id << ' ' << job.state << '\n';
  } else {
    std::cout << job.id << " stopping (" << job.state << (job.worker.empty() ? "" : " on " + job.worker)
              << "); `titan status " << job.id << "` shows when it has ended\n";
  }
  return kExitOk;
}

int DeleteJob(const Target& target, const std::string& id) {
  BrokerClient broker(target);
  wire::OkMsg reply;
  const int rc = broker.Call(wire::JobDeleteMsg{.id = id}.ToMessage(), &reply);
  if (rc == kExitOk) std::cout << "job " << id << " deleted, with its output\n";
  return rc;
}

std::string LocalHostname() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 ? name : "localhost";
}

// `shutdown HOST PORT`: the name of the worker with that address, from STATS; "" when none (printed).
std::string WorkerAt(BrokerClient& broker, const std::string& host, const std::string& port_word, int* rc) {
  int64_t port = 0;
  const auto [end, ec] = std::from_chars(port_word.data(), port_word.data() + port_word.size(), port);
  if (ec != std::errc() || end != port_word.data() + port_word.size() || port < 1 || port > 65535) {
    std::cerr << "titan: shutdown HOST PORT: PORT '" << port_word << "' is not a port (1..65535)\n";
    *rc = kExitUsage;
    return "";
  }
  wire::StatsMsg stats;
  *rc = broker.Call(wire::StatsGetMsg{}.ToMessage(), &stats);
  if (*rc != kExitOk) return "";
  std::string name, error;
  if (!FindWorkerAt(WorkersFromStats(stats), host, port, BrokerMachine(broker.target().host, LocalHostname()),
                    &name, &error)) {
    std::cerr << "titan: " << error << '\n';
    *rc = kExitNotFound;
  }
  return name;
}

// `shutdown WORD`: the worker of that name, or with that address port; "" when none (printed).
std::string WorkerNamed(BrokerClient& broker, const std::string& word, int* rc) {
  wire::StatsMsg stats;
  *rc = broker.Call(wire::StatsGetMsg{}.ToMessage(), &stats);
  if (*rc != kExitOk) return "";
  std::string name, error;
  if (!FindShutdownTarget(WorkersFromStats(stats), word, &name, &error)) {
    std::cerr << "titan: " << error << '\n';
    *rc = kExitNotFound;
  }
  return name;
}

// `words`: WORKER, PORT (the original's `shutdown <port>`), or HOST PORT.
int StopWorker(const Target& target, const std::vector<std::string>& words) {
  BrokerClient broker(target);
  int found = kExitOk;
  const std::string name = words.size() == 1 ? WorkerNamed(broker, words[0], &found)
                                             : WorkerAt(broker, words[0], words[1], &found);
  if (found != kExitOk) return found;
  wire::OkMsg reply;
  const int rc = broker.Call(wire::WorkerStopMsg{.name = name}.ToMessage(), &reply);
  if (rc == kExitOk) {
    const std::string where = words.size() == 2  ? " (" + words[0] + ":" + words[1] + ")"
                              : words[0] != name ? " (port " + words[0] + ")"
                                                 : "";
    std::cout << "worker " << name << where
              << " is draining: it takes no new jobs and exits after its running ones\n";
  }
  return rc;
}

}  // namespace

void AddStopCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  for (const auto& [name, help] :
       {std::pair{"stop", "Stop a job: a waiting one is cancelled, a running one is killed"},
        std::pair{"cancel",
                  "Cancel a job (the same as stop): a waiting one is cancelled, a running one killed"}}) {
    auto id = std::make_shared<std::string>();
    CLI::App* stop = app.add_subcommand(name, help);
    stop->add_option("ID", *id, "job id (or DAG-<id>)")->required();
    stop->callback([=] { *exit_code = StopJob(*t, *id); });
  }

  auto id = std::make_shared<std::string>();
  CLI::App* del = app.add_subcommand("delete", "Delete a finished job with its output (every run of its id)");
  del->footer(
      "The job leaves the broker's memory, journal and log store; its id may be used again. A job that\n"
      "has not ended is refused (stop it first), and so is a job submitted with others as a DAG.");
  del->add_option("ID", *id, "job id")->required();
  del->callback([=] { *exit_code = DeleteJob(*t, *id); });

  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* shutdown =
      app.add_subcommand("shutdown", "Retire a worker: it finishes its running jobs, then exits");
  shutdown->footer(
      "`titan shutdown HOST PORT` finds the worker by its address port (`titan worker --address-port`,\n"
      "`titan deploy Worker.jar PORT`) on machine HOST; localhost means the broker's machine.\n"
      "`titan shutdown PORT` (the original's form) finds it by the port alone when no worker has that name.");
  shutdown->add_option("WORKER", *words, "worker name, as `titan stats` shows it; or PORT; or HOST PORT")
      ->required()
      ->expected(1, 2);
  shutdown->callback([=] { *exit_code = StopWorker(*t, *words); });
}

}  // namespace titan::cli
