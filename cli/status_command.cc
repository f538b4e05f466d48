// `titan status ID [--wait]`: one job in detail (ID may be DAG-<id>; the broker resolves it); `titan wait
// ID`: until it ends. Both wait with JOB_WAIT, which the broker answers when the job is final (or, a
// service, up) and exit with its outcome as `titan run --wait` does.
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"
#include "cli/run_job.h"

namespace titan::cli {

namespace {

struct StatusArgs {
  std::string id;
  int64_t run = 0;
  bool history = false;
  bool wait = false;
};

// The exit code of a job that was waited for: 0 when it COMPLETED (or, a service, is up), else kExitFailed.
int Outcome(const JobView& job) {
  return job.state == "COMPLETED" || (job.state == "RUNNING" && job.ready) ? kExitOk : kExitFailed;
}

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
  cmd->add_flag(
         "--wait,-w", a->wait,
         "wait until the job ends (a service: until it is up), then show it; exit 0 when it COMPLETED, "
         "5 when it ended otherwise")
      ->excludes("--history")
      ->excludes("--run");
  const Target* t = &target;
  cmd->callback([=] {
    BrokerClient broker(*t);
    if (a->history) {
      *exit_code = ShowHistory(broker, a->id);
      return;
    }
    if (a->wait) {
      JobView job;
      *exit_code = WaitForJob(broker, a->id, &job);
      if (*exit_code != kExitOk) return;
      *exit_code = Outcome(job);
    }
    wire::JobInfo job;
    if (const int rc = broker.GetJob(a->id, &job, a->run); rc != kExitOk) {
      *exit_code = rc;
      return;
    }
    std::cout << RenderJobStatus(JobFromInfo(job), WallMs());
  });

  auto id = std::make_shared<std::string>();
  CLI::App* wait = app.add_subcommand("wait", "Wait until a job ends and print its final state");
  wait->footer(
      "A service counts as ended once it is up (RUNNING and ready). Exit status: 0 when the job COMPLETED,\n"
      "5 when it ended FAILED, DEAD, SKIPPED or CANCELLED, 1 when the broker knows no such job.\n"
      "`titan status ID --wait` shows the whole job instead.");
  wait->add_option("ID", *id, "job id (or DAG-<id>)")->required();
  wait->callback([=] {
    BrokerClient broker(*t);
    JobView job;
    *exit_code = WaitForJob(broker, *id, &job);
    if (*exit_code != kExitOk) return;
    std::cout << job.id << ' ' << job.state << '\n';
    *exit_code = Outcome(job);
  });
}

}  // namespace titan::cli
