// `titan deploy FILE [PORT] [REQUIREMENT]`: run a script as a long-running service (restarted when it
// exits, RUNNING once its port accepts connections); `titan deploy Worker.jar PORT` starts a worker.
// `titan services`: services with worker, port, uptime and restarts. `titan restart ID`: a service's
// process stopped and started again where it runs.
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"
#include "cli/run_job.h"
#include "cli/worker_address.h"

namespace titan::cli {
namespace {

// `deploy Worker.jar PORT [REQUIREMENT]`: WORKER_ADD, a new worker started by one on the broker's machine.
int AddWorker(const Target& target, const RunArgs& args, const std::vector<std::string>& script_args) {
  if (args.port == 0 || !script_args.empty()) {
    std::cerr
        << "titan: deploy Worker.jar starts a worker: give its PORT and, if it needs one, a capability: "
           "titan deploy Worker.jar 8081 [GPU]\n";
    return kExitUsage;
  }
  wire::WorkerAddMsg request{.port = args.port};
  if (!args.requirement.empty()) request.capability = args.requirement;
  BrokerClient broker(target);
  wire::OkMsg reply;
  if (const int rc = broker.Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
  std::cout << "worker " << reply.name.value_or("") << " (port " << args.port
            << ") is starting; `titan stats` "
            << "lists it once it has joined, `titan shutdown " << target.host << ' ' << args.port
            << "` retires it\n";
  return kExitOk;
}

int ListServices(const Target& target, bool all, bool json) {
  const wire::JobListMsg request{.limit = 10000, .job_type = "SERVICE"};
  BrokerClient broker(target);
  wire::JobListReplyMsg reply;
  if (const int rc = broker.Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
  std::vector<JobView> services;
  for (const wire::JobInfo& j : reply.jobs) {
    JobView v = JobFromInfo(j);
    if (all || !IsFinalState(v.state)) services.push_back(std::move(v));
  }
  std::cout << (json ? RenderJobsJson(services) : RenderServiceTable(services, WallMs()));
  return kExitOk;
}

// `restart ID`: SERVICE_RESTART; with `wait`, until the new process is ready.
int RestartService(const Target& target, const std::string& id, bool wait) {
  BrokerClient broker(target);
  wire::JobInfoMsg reply;
  if (const int rc = broker.Call(wire::ServiceRestartMsg{.id = id}.ToMessage(), &reply); rc != kExitOk)
    return rc;
  if (!reply.found || !reply.job) {
    std::cerr << "titan: no service '" << id << "' (list them with `titan services`)\n";
    return kExitNotFound;
  }
  JobView service = JobFromInfo(*reply.job);
  std::cout << service.id << " restarting on " << service.worker << " (restarts so far: " << service.restarts
            << ")" << std::endl;
  if (!wait) {
    std::cerr << "titan: `titan services` shows it ready again once its new process is\n";
    return kExitOk;
  }
  if (const int rc = WaitForJob(broker, service.id, &service); rc != kExitOk) return rc;
  if (IsFinalState(service.state)) {
    std::cerr << "titan: service " << service.id << " " << DescribeOutcome(service) << '\n';
    return kExitFailed;
  }
  std::cout << service.id << " ready on " << service.worker << " (restarts: " << service.restarts << ")\n";
  return kExitOk;
}

void AddRestartCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto id = std::make_shared<std::string>();
  auto wait = std::make_shared<bool>(false);
  CLI::App* restart = app.add_subcommand("restart", "Restart a service: stop its process and start it again");
  restart->footer(
      "Its worker stops the process as `titan stop` would (SIGTERM, the kill grace, SIGKILL) and starts\n"
      "it again at once, on the same worker: the service's restarts go up by one (it is not counted as a\n"
      "crash) and it is not ready until the new process is (its port answers, or --health-cmd passes).\n"
      "Exit status with --wait: 0 once it is ready again, 5 when it ended instead.");
  restart->add_option("ID", *id, "the service's id, as `titan services` lists it")->required();
  restart->add_flag("--wait,-w", *wait, "wait until the new process is ready");
  const Target* t = &target;
  restart->callback([=] { *exit_code = RestartService(*t, *id, *wait); });
}

// The deploy command once parsed: `words` are the positionals after FILE, `script_args` those after `--`.
int Deploy(const Target& target, RunArgs args, const std::vector<std::string>& words, bool port_given,
           bool requirement_given, const std::vector<std::string>& script_args) {
  if (const std::string bad = ApplyDeployWords(words, port_given, requirement_given, &args); !bad.empty()) {
    std::cerr << "titan: deploy: " << bad << '\n';
    return kExitUsage;
  }
  if (IsWorkerJar(args.file)) return AddWorker(target, args, script_args);
  args.args = script_args;
  args.job_type = "SERVICE";
  return RunJob(target, args);
}

void AddServicesList(CLI::App& app, const Target& target, int* exit_code) {
  auto all = std::make_shared<bool>(false);
  auto json = std::make_shared<bool>(false);
  CLI::App* list =
      app.add_subcommand("services", "List services: state, readiness, worker, port, uptime, restarts");
  list->add_flag("--all", *all, "also services that ended (stopped or failed)");
  list->add_flag("--json", *json, "print JobInfo objects as JSON");
  const Target* t = &target;
  list->callback([=] { *exit_code = ListServices(*t, *all, *json); });
}

}  // namespace

void AddServiceCommands(CLI::App& app, const Target& target, const std::vector<std::string>& script_args,
                        int* exit_code) {
  auto a = std::make_shared<RunArgs>();
  auto words = std::make_shared<std::vector<std::string>>();
  auto restarts = std::make_shared<int64_t>(5);
  CLI::App* deploy =
      app.add_subcommand("deploy", "Run a script as a long-running service, kept alive by Titan");
  deploy->footer(
      "The service is restarted with exponential backoff when it exits, and FAILED after\n"
      "--max-restarts crashes in a row. It counts as ready (and jobs that depend on it may start)\n"
      "once its port accepts connections, or --health-cmd exits 0. `titan restart ID` restarts it where\n"
      "it runs; `titan stop ID` ends it for good.\n"
      "FILE is read here, or names a script deployed with `titan deploy-script`; with --archive,\n"
      "FILE is <project>.zip/<entry> of a project uploaded with `titan upload DIR`.\n"
      "As in the original Titan, a number after FILE is the port and the next word the requirement:\n"
      "  titan deploy server.py 8080 GPU -- --workers 2     (the script's arguments go after --)\n"
      "  titan deploy Worker.jar 8081 [REQUIREMENT]         starts a new worker on the broker's machine,\n"
      "      known by port 8081 (`titan shutdown HOST 8081` retires it)");
  deploy->add_option("FILE", a->file, "the service's script")->required();
  deploy->add_option("PORT_REQUIREMENT", *words, "[PORT] [REQUIREMENT], as --port and --requirement");
  auto* port = deploy->add_option("--port", a->port, "the port it listens on (readiness is checked there)")
                   ->check(CLI::Range(0, 65535));
  deploy->add_option("--id", a->id, "service id (default: <file stem>-<8 random hex digits>)");
  deploy->add_option("--health-cmd", a->health_cmd, "shell command whose exit 0 means healthy");
  auto* max_restarts = deploy
                           ->add_option("--max-restarts", *restarts,
                                        "crashes in a row before it is reported FAILED (default 5)")
                           ->check(CLI::Range(0, 1000));
  auto* requirement = deploy->add_option("--requirement", a->requirement,
                                         "capability a worker must have (GENERAL, GPU, a tag)");
  deploy->add_option("--env", a->env, "NAME=value added to its environment (repeatable)")->take_all();
  deploy
      ->add_option("--secret-env", a->secret_env,
                   "NAME=value (or NAME, its value from this environment) added as a secret (repeatable)")
      ->take_all();
  deploy->add_flag("--archive", a->archive, "FILE is <project>.zip/<entry> in a deployed project");
  const Target* t = &target;
  const std::vector<std::string>* after_dashes = &script_args;
  deploy->callback([=] {
    a->max_restarts = max_restarts->count() ? std::optional(*restarts) : std::nullopt;
    *exit_code = Deploy(*t, *a, *words, port->count() > 0, requirement->count() > 0, *after_dashes);
  });
  AddServicesList(app, target, exit_code);
  AddRestartCommand(app, target, exit_code);
}

}  // namespace titan::cli
