// `titan runs` and `titan run-status RUN_ID`: agent runs (the DAGs submitted with one agent_run_id).
#include <algorithm>
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/dag_view.h"

namespace titan::cli {
namespace {

constexpr int64_t kAllRuns = 10000;  // the broker's largest limit

int ListRuns(BrokerClient& broker, int64_t limit, std::vector<DagView>* runs) {
  wire::RunListReplyMsg reply;
  if (const int rc = broker.Call(wire::RunListMsg{.limit = limit}.ToMessage(), &reply); rc != kExitOk)
    return rc;
  for (const wire::DagInfo& r : reply.runs) runs->push_back(DagFromInfo(r));
  return kExitOk;
}

int Runs(const Target& target, int64_t limit, bool json) {
  BrokerClient broker(target);
  std::vector<DagView> runs;
  if (const int rc = ListRuns(broker, limit, &runs); rc != kExitOk) return rc;
  std::cout << (json ? RenderDagsJson(runs) : RenderRunTable(runs, WallMs()));
  return kExitOk;
}

int RunStatus(const Target& target, const std::string& run_id) {
  BrokerClient broker(target);
  std::vector<DagView> runs;
  if (const int rc = ListRuns(broker, kAllRuns, &runs); rc != kExitOk) return rc;
  auto run = std::find_if(runs.begin(), runs.end(), [&](const DagView& r) { return r.id == run_id; });
  if (run == runs.end()) {
    std::cerr << "titan: no agent run '" << run_id << "' on " << target.host << ':' << target.port
              << " (list them with `titan runs`)\n";
    return kExitNotFound;
  }
  wire::DagListReplyMsg list;
  if (const int rc =
          broker.Call(wire::DagListMsg{.agent_run_id = run_id, .limit = kAllRuns}.ToMessage(), &list);
      rc != kExitOk) {
    return rc;
  }
  std::vector<DagDetail> dags;
  for (auto it = list.dags.rbegin(); it != list.dags.rend(); ++it) {  // oldest first
    wire::DagInfoMsg info;
    if (const int rc = broker.Call(wire::DagGetMsg{.id = it->id}.ToMessage(), &info); rc != kExitOk)
      return rc;
    if (info.found) dags.push_back(DagDetailFrom(info));
  }
  std::cout << RenderRunStatus(*run, dags, WallMs());
  return kExitOk;
}

}  // namespace

void AddRunCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  auto limit = std::make_shared<int64_t>(50);
  auto json = std::make_shared<bool>(false);
  CLI::App* runs = app.add_subcommand("runs", "List agent runs (DAGs grouped by agent_run_id), newest first");
  runs->footer(
      "DONE counts the jobs of all the run's DAGs that have ended; FAILED those that ended other\n"
      "than COMPLETED. `titan run-status RUN` shows each DAG and job.");
  runs->add_option("--limit", *limit, "at most this many")
      ->check(CLI::Range(int64_t{1}, kAllRuns))
      ->capture_default_str();
  runs->add_flag("--json", *json, "print a JSON array of DagInfo objects (id = the run id) instead");
  runs->callback([=] { *exit_code = Runs(*t, *limit, *json); });

  auto id = std::make_shared<std::string>();
  CLI::App* status = app.add_subcommand("run-status", "Show an agent run: each of its DAGs and their jobs");
  status->add_option("RUN_ID", *id, "the agent_run_id the DAGs were submitted with")->required();
  status->callback([=] { *exit_code = RunStatus(*t, *id); });
}

}  // namespace titan::cli
