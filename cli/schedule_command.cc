// `titan schedule add NAME CRON FILE.yaml`, `titan schedule rm NAME`, `titan schedule enable|disable
// NAME`, `titan schedules`: recurring pipelines, fired by the broker.
#include <iostream>

#include "cli/artifact_upload.h"
#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/dag_view.h"
#include "cli/pipeline.h"

namespace titan::cli {
namespace {

int ListSchedules(BrokerClient& broker, std::vector<ScheduleView>* out) {
  wire::ScheduleListReplyMsg reply;
  if (const int rc = broker.Call(wire::ScheduleListMsg{}.ToMessage(), &reply); rc != kExitOk) return rc;
  for (const wire::ScheduleInfo& s : reply.schedules) out->push_back(ScheduleFromInfo(s));
  return kExitOk;
}

// Prints the row of schedule `name` as `titan schedules` shows it.
int ShowSchedule(BrokerClient& broker, const std::string& name) {
  std::vector<ScheduleView> schedules;
  if (const int rc = ListSchedules(broker, &schedules); rc != kExitOk) return rc;
  for (const ScheduleView& s : schedules) {
    if (s.name == name) std::cout << RenderScheduleTable({s}, WallMs());
  }
  return kExitOk;
}

int Add(const Target& target, const std::string& name, const std::string& cron, const std::string& file) {
  Pipeline pipeline;
  PipelineError error;
  if (!ParsePipeline(file, &pipeline, &error)) {
    std::cerr << "titan: " << error.Message() << '\n';
    return kExitUsage;
  }
  if (pipeline.agent_run_id) {
    std::cerr << "titan: note: scheduled DAGs are named " << pipeline.dag
              << "@<time> and are not part of agent run '" << *pipeline.agent_run_id << "'\n";
  }
  if (const int rc = DeployPipelineProject(target, pipeline); rc != kExitOk) return rc;
  BrokerClient broker(target);
  wire::OkMsg ok;
  if (const int rc = broker.Call(BuildScheduleAdd(name, cron, pipeline), &ok); rc != kExitOk) return rc;
  return ShowSchedule(broker, name);
}

// SCHEDULE_ENABLE: a disabled schedule keeps its definition and does not fire; enabled again, it fires
// from its next tick on (the ticks it missed are not owed). Doing what is already so is not an error.
int Enable(const Target& target, const std::string& name, bool enabled) {
  BrokerClient broker(target);
  wire::OkMsg ok;
  if (const int rc = broker.Call(wire::ScheduleEnableMsg{.name = name, .enabled = enabled}.ToMessage(), &ok);
      rc != kExitOk) {
    return rc;
  }
  std::cerr << (enabled ? "titan: schedule " + name +
                              " is enabled: it fires at its next tick (the ticks it "
                              "missed while disabled are not owed)\n"
                        : "titan: schedule " + name +
                              " is disabled: it does not fire until `titan schedule "
                              "enable " +
                              name + "`\n");
  return ShowSchedule(broker, name);
}

int Remove(const Target& target, const std::string& name) {
  BrokerClient broker(target);
  wire::OkMsg ok;
  const int rc = broker.Call(wire::ScheduleRemoveMsg{.name = name}.ToMessage(), &ok);
  if (rc == kExitOk) std::cout << "removed schedule " << name << " (DAGs it already started keep running)\n";
  return rc;
}

int List(const Target& target) {
  BrokerClient broker(target);
  std::vector<ScheduleView> schedules;
  if (const int rc = ListSchedules(broker, &schedules); rc != kExitOk) return rc;
  std::cout << RenderScheduleTable(schedules, WallMs());
  return kExitOk;
}

}  // namespace

void AddScheduleCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  CLI::App* schedule = app.add_subcommand("schedule", "Add, remove, disable or enable a recurring pipeline");
  schedule->require_subcommand(1);

  auto args = std::make_shared<std::array<std::string, 3>>();  // name, cron, file
  CLI::App* add = schedule->add_subcommand("add", "Run a pipeline's jobs at each tick of a cron expression");
  add->footer(
      "CRON has five fields, in UTC: minute hour day-of-month month day-of-week; quote it:\n"
      "  titan schedule add nightly '0 2 * * *' pipeline.yaml\n"
      "The pipeline's jobs and scripts (read now) become the schedule's; its project, if it has one, is\n"
      "uploaded now. Each tick submits the jobs as DAG <the pipeline's name>@<YYYYmmddTHHMMZ> with job ids\n"
      "suffixed @<YYYYmmddTHHMMZ>. A schedule of the same name is replaced.");
  add->add_option("NAME", (*args)[0], "the schedule's name (no '@')")->required();
  add->add_option("CRON", (*args)[1], "when: five cron fields, UTC")->required();
  add->add_option("FILE", (*args)[2], "the pipeline YAML file (docs/pipelines.md)")->required();
  add->callback([=] { *exit_code = Add(*t, (*args)[0], (*args)[1], (*args)[2]); });

  auto name = std::make_shared<std::string>();
  CLI::App* rm = schedule->add_subcommand("rm", "Remove a schedule (DAGs it already started keep running)");
  rm->alias("remove");
  rm->add_option("NAME", *name, "the schedule's name")->required();
  rm->callback([=] { *exit_code = Remove(*t, *name); });

  for (const bool enabled : {false, true}) {
    auto which = std::make_shared<std::string>();
    CLI::App* toggle = schedule->add_subcommand(
        enabled ? "enable" : "disable",
        enabled ? "Enable a disabled schedule: it fires again from its next tick (missed ticks are not owed)"
                : "Disable a schedule: it keeps its definition and does not fire until enabled");
    toggle->add_option("NAME", *which, "the schedule's name, as `titan schedules` lists it")->required();
    toggle->callback([=] { *exit_code = Enable(*t, *which, enabled); });
  }

  CLI::App* list = app.add_subcommand("schedules", "List schedules: cron, jobs, next and last tick");
  list->callback([=] { *exit_code = List(*t); });
}

}  // namespace titan::cli
