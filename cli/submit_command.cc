// `titan submit FILE.yaml [--wait]`: send a pipeline (docs/pipelines.md) as one DAG; with --wait, follow
// it to the end and exit with its outcome. `titan submit SKILL DATA [ARGS...]` (the original shell's
// `submit <skill> <data>`): run the script DATA once on a worker with capability SKILL, as `titan run DATA
// --requirement SKILL` does.
#include <unistd.h>

#include <iostream>

#include "cli/artifact_upload.h"
#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/dag_wait.h"
#include "cli/pipeline.h"
#include "cli/run_job.h"

namespace titan::cli {
namespace {

struct SubmitArgs {
  std::string file;
  std::vector<std::string> more;  // SKILL DATA [ARGS...]: DATA and its arguments
  bool wait = false;
  bool dry_run = false;
};

// --dry-run: what would be sent, one JobSpec per line.
void PrintSubmission(const Pipeline& p) {
  std::cout << "dag: " << p.dag << '\n';
  if (p.agent_run_id) std::cout << "agent_run_id: " << *p.agent_run_id << '\n';
  for (const wire::JobSpec& spec : p.jobs) std::cout << "job: " << wire::Render(spec.ToDatum()) << '\n';
  for (const auto& [name, content] : p.files)
    std::cout << "file: " << name << " (" << content.size() << " bytes)\n";
  if (p.project)
    std::cout << "project: " << p.project->folder << " -> perm_files/" << p.project->name << '\n';
}

// `submit SKILL DATA [ARGS...]`: one job running DATA on a worker with SKILL.
int SubmitToSkill(const Target& target, const SubmitArgs& args) {
  if (args.dry_run) {
    std::cerr << "titan: --dry-run checks a pipeline file; `submit SKILL DATA` has nothing to check\n";
    return kExitUsage;
  }
  RunArgs run;
  run.requirement = args.file;
  run.file = args.more[0];
  run.args.assign(args.more.begin() + 1, args.more.end());
  run.wait = args.wait;
  return RunJob(target, std::move(run));
}

int Submit(const Target& target, const SubmitArgs& args) {
  if (!args.more.empty()) return SubmitToSkill(target, args);
  Pipeline pipeline;
  PipelineError error;
  if (!ParsePipeline(args.file, &pipeline, &error)) {
    std::cerr << "titan: " << error.Message() << '\n';
    return kExitUsage;
  }
  if (args.dry_run) {
    PrintSubmission(pipeline);
    return kExitOk;
  }
  if (const int rc = DeployPipelineProject(target, pipeline); rc != kExitOk) return rc;
  BrokerClient broker(target);
  wire::JobAcceptedMsg accepted;
  if (const int rc = broker.Call(BuildPipelineSubmit(pipeline), &accepted); rc != kExitOk) return rc;
  const std::string dag = accepted.dag.value_or("");
  std::cout << "dag: " << dag << "\njobs:";
  for (const std::string& id : accepted.ids) std::cout << ' ' << id;
  std::cout << std::endl;
  if (!args.wait) return kExitOk;
  return WaitForDag(broker, dag, accepted.ids, isatty(STDOUT_FILENO) == 1);
}

}  // namespace

void AddSubmitCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<SubmitArgs>();
  CLI::App* cmd = app.add_subcommand(
      "submit",
      "Submit a YAML pipeline as one DAG and print its id and job ids (--wait: follow it to the end)");
  cmd->footer(
      "FILE is a pipeline in the Titan format (jobs with id and script or file) or the Joblet format (jobs\n"
      "with name/command); docs/pipelines.md describes both. Scripts are read relative to FILE's folder and\n"
      "sent with the DAG; jobs given with 'file' run from FILE's folder, zipped and uploaded first as\n"
      "perm_files/<name>.zip (unless the pipeline says project: false).\n"
      "Mistakes are reported as FILE:LINE: what, before anything is sent.\n"
      "A job with hitl_message is followed by a gate hitl-gate-<id>: `titan approve` or `titan reject` it.\n"
      "Exit status with --wait: 0 when the DAG COMPLETED, 5 when it FAILED or was CANCELLED\n"
      "(the failed jobs, their reasons and the last 20 lines of their logs are printed).\n"
      "`titan submit SKILL DATA [ARGS...]` (the original shell's form) runs the script DATA once on a\n"
      "worker with capability SKILL, as `titan run DATA --requirement SKILL` does.");
  cmd->add_option("FILE", a->file, "the pipeline YAML file (or SKILL, followed by DATA)")->required();
  cmd->add_option("DATA", a->more, "with SKILL: the script to run, then its arguments");
  cmd->add_flag("--wait,-w", a->wait,
                "show progress until every job has ended (one line rewritten on a terminal, one line per "
                "state change otherwise)");
  cmd->add_flag("--dry-run", a->dry_run,
                "check the file and print the jobs and files it would send; send nothing");
  const Target* t = &target;
  cmd->callback([=] { *exit_code = Submit(*t, *a); });
}

}  // namespace titan::cli
