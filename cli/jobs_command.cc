// `titan jobs`: the newest jobs as a table, or as JSON for scripts.
#include <cctype>
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"

namespace titan::cli {

namespace {

struct JobsArgs {
  std::string state;
  int64_t limit = 50;
  bool json = false;
};

int ListJobs(const Target& target, const JobsArgs& args) {
  wire::JobListMsg request{.limit = args.limit};
  if (!args.state.empty()) {
    std::string state = args.state;
    for (char& c : state) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    request.state = state;
  }
  BrokerClient broker(target);
  wire::JobListReplyMsg reply;
  if (const int rc = broker.Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
  std::vector<JobView> jobs;
  for (const wire::JobInfo& j : reply.jobs) jobs.push_back(JobFromInfo(j));
  std::cout << (args.json ? RenderJobsJson(jobs) : RenderJobTable(jobs, WallMs()));
  if (reply.truncated) {
    std::cerr << "titan: showing the newest " << jobs.size() << " jobs; see more with --limit\n";
  }
  return kExitOk;
}

}  // namespace

void AddJobsCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<JobsArgs>();
  CLI::App* cmd = app.add_subcommand("jobs", "List jobs, newest first");
  cmd->add_option("--state", a->state, "only jobs in this state (QUEUED, RUNNING, COMPLETED, FAILED, ...)");
  cmd->add_option("--limit", a->limit, "at most this many")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print a JSON array of JobInfo objects instead of a table");
  const Target* t = &target;
  cmd->callback([=] { *exit_code = ListJobs(*t, *a); });
}

}  // namespace titan::cli
