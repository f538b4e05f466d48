// `titan dags`, `titan dag ID`, `titan dag-cancel ID`: DAGs as the broker reports them. `titan dag
// DAG_STRING`: submit one of the original Titan's raw DAG strings (dag_string.h). `titan dag-rerun ID`:
// a finished DAG's jobs again, as a new DAG of its name.
#include <unistd.h>

#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/dag_string.h"
#include "cli/dag_view.h"
#include "cli/dag_wait.h"

namespace titan::cli {
namespace {

using wire::MsgType;

struct DagsArgs {
  std::string run;
  int64_t limit = 50;
  bool json = false;
};

int ListDags(const Target& target, const DagsArgs& args) {
  wire::DagListMsg request{.limit = args.limit};
  if (!args.run.empty()) request.agent_run_id = args.run;
  BrokerClient broker(target);
  wire::DagListReplyMsg reply;
  if (const int rc = broker.Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
  std::vector<DagView> dags;
  for (const wire::DagInfo& d : reply.dags) dags.push_back(DagFromInfo(d));
  std::cout << (args.json ? RenderDagsJson(dags) : RenderDagTable(dags, WallMs()));
  return kExitOk;
}

// DAG_GET or DAG_CANCEL of `id`, rendered; kExitNotFound (printed) for an unknown DAG.
int ShowDag(const Target& target, const std::string& id, MsgType request, bool json) {
  BrokerClient broker(target);
  wire::DagInfoMsg reply;
  const wire::Message sent = request == MsgType::kDagCancel ? wire::DagCancelMsg{.id = id}.ToMessage()
                                                            : wire::DagGetMsg{.id = id}.ToMessage();
  if (const int rc = broker.Call(sent, &reply); rc != kExitOk) return rc;
  if (!reply.found) {
    std::cerr << "titan: no DAG '" << id << "' on " << target.host << ':' << target.port
              << " (list them with `titan dags`)\n";
    return kExitNotFound;
  }
  const DagDetail detail = DagDetailFrom(reply);
  std::cout << (json ? RenderDagJson(detail) : RenderDagDetail(detail, WallMs()));
  if (request == MsgType::kDagCancel && detail.dag.state == "RUNNING" && !json) {
    std::cerr << "titan: running jobs are CANCELLED once their processes have ended\n";
  }
  return kExitOk;
}

// Sends `request` (a submission answered JOB_ACCEPTED) and prints the DAG's id and job ids as `titan
// submit` does; with `wait`, follows the DAG to the end.
int SubmitAndFollow(const Target& target, const wire::Message& request, bool wait) {
  BrokerClient broker(target);
  wire::JobAcceptedMsg accepted;
  if (const int rc = broker.Call(request, &accepted); rc != kExitOk) return rc;
  const std::string dag_id = accepted.dag.value_or("");
  std::cout << "dag: " << dag_id << "\njobs:";
  for (const std::string& id : accepted.ids) std::cout << ' ' << id;
  std::cout << std::endl;
  return wait ? WaitForDag(broker, dag_id, accepted.ids, isatty(STDOUT_FILENO) == 1) : kExitOk;
}

// Submits a raw DAG string as one DAG; a malformed string is a usage error and nothing is sent.
int SubmitDagString(const Target& target, const std::string& text, bool wait) {
  Pipeline dag;
  std::string error;
  if (!ParseDagString(text, &dag, &error)) {
    std::cerr << "titan: dag: " << error << '\n';
    return kExitUsage;
  }
  return SubmitAndFollow(target, BuildPipelineSubmit(dag), wait);
}

}  // namespace

void AddDagCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  auto a = std::make_shared<DagsArgs>();
  CLI::App* dags = app.add_subcommand("dags", "List DAGs (pipelines), newest first");
  dags->add_option("--run", a->run, "only the DAGs of this agent run");
  dags->add_option("--limit", a->limit, "at most this many")
      ->check(CLI::Range(int64_t{1}, int64_t{10000}))
      ->capture_default_str();
  dags->add_flag("--json", a->json, "print a JSON array of DagInfo objects instead of a table");
  dags->callback([=] { *exit_code = ListDags(*t, *a); });

  auto id = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto wait = std::make_shared<bool>(false);
  CLI::App* dag = app.add_subcommand(
      "dag", "Show one DAG and each of its jobs with state and timings; or submit a raw DAG string");
  dag->footer(
      "START is when a job started, after the DAG was submitted. Gates (hitl-gate-<job>) show their\n"
      "question and who decided; `titan approve` / `titan reject` decide them.\n"
      "An argument with a '|' is the original Titan's raw DAG string, submitted as one DAG:\n"
      "  ID|SKILL|PAYLOAD|PRIORITY|DELAY_MS|[PARENTS][|AFFINITY]; ...   (docs/operations.md)\n"
      "  titan dag 'extract|GENERAL|extract.py|1|0|[];train|GPU|train.py|5|0|[extract]' --wait");
  dag->add_option("ID", *id,
                  "DAG id, as `titan dags` lists it (the pipeline's name, or name#N); or a DAG string")
      ->required();
  dag->add_flag("--json", *json, "print {\"dag\": DagInfo, \"jobs\": [JobInfo...]} instead");
  dag->add_flag("--wait,-w", *wait, "a DAG string: follow it until every job has ended (as `submit --wait`)");
  dag->callback([=] {
    *exit_code =
        IsDagString(*id) ? SubmitDagString(*t, *id, *wait) : ShowDag(*t, *id, MsgType::kDagGet, *json);
  });

  auto cancel_id = std::make_shared<std::string>();
  CLI::App* cancel = app.add_subcommand("dag-cancel", "Cancel every unfinished job of a DAG");
  cancel->footer("Waiting jobs are CANCELLED at once; running ones once their processes have ended.");
  cancel->add_option("ID", *cancel_id, "DAG id")->required();
  cancel->callback([=] { *exit_code = ShowDag(*t, *cancel_id, MsgType::kDagCancel, false); });

  auto rerun_id = std::make_shared<std::string>();
  auto rerun_wait = std::make_shared<bool>(false);
  CLI::App* rerun =
      app.add_subcommand("dag-rerun", "Run a finished DAG again, as a new DAG of the same name");
  rerun->footer(
      "Every job of the DAG (all of them must have ended) is submitted again with the spec and script it\n"
      "ran, as the next run of its id; gates come back with their jobs. The new DAG is <name>#N:\n"
      "  titan dag-rerun nightly --wait      (then `titan status ID --history` lists each run of a job)");
  rerun->add_option("ID", *rerun_id, "the finished DAG, as `titan dags` lists it")->required();
  rerun->add_flag("--wait,-w", *rerun_wait,
                  "follow the new DAG until every job has ended (as `submit --wait`)");
  rerun->callback(
      [=] { *exit_code = SubmitAndFollow(*t, wire::DagRerunMsg{.id = *rerun_id}.ToMessage(), *rerun_wait); });
}

}  // namespace titan::cli
