// `titan volume create NAME [--size 1GB] [--type memory] [--worker W]`, `titan volume list`, `titan volume
// rm NAME`: named persistent directories on a worker's machine (docs/job-control.md, "Volumes").
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"

namespace titan::cli {
namespace {

int Create(const Target& target, const wire::VolumeCreateMsg& req) {
  BrokerClient broker(target);
  wire::VolumeListReplyMsg reply;
  if (const int rc = broker.Call(wire::VolumeCreateMsg(req).ToMessage(), &reply); rc != kExitOk) return rc;
  std::cout << RenderVolumeTable(reply.volumes, WallMs());
  return kExitOk;
}

int List(const Target& target) {
  BrokerClient broker(target);
  wire::VolumeListReplyMsg reply;
  if (const int rc = broker.Call(wire::VolumeListMsg{}.ToMessage(), &reply); rc != kExitOk) return rc;
  std::cout << RenderVolumeTable(reply.volumes, WallMs());
  return kExitOk;
}

int Remove(const Target& target, const std::string& name) {
  BrokerClient broker(target);
  wire::OkMsg ok;
  const int rc = broker.Call(wire::VolumeRemoveMsg{.name = name}.ToMessage(), &ok);
  if (rc == kExitOk) std::cout << "removed volume " << name << " and its data\n";
  return rc;
}

}  // namespace

void AddVolumeCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  CLI::App* volume =
      app.add_subcommand("volume", "Create, list or remove volumes (persistent directories on a worker)");
  volume->require_subcommand(1);

  auto req = std::make_shared<wire::VolumeCreateMsg>();
  auto size = std::make_shared<std::string>(), type = std::make_shared<std::string>(),
       worker = std::make_shared<std::string>();
  CLI::App* create = volume->add_subcommand("create", "Create a volume on a live worker");
  create->footer(
      "A job uses it with --volume NAME:/path (YAML volumes: [NAME:/path]): it runs on the volume's worker "
      "and\n"
      "finds the directory at $TITAN_VOLUME_<NAME> and at ./path in its job directory. A filesystem "
      "volume's\n"
      "size is advisory; a memory volume is a tmpfs of its size where the worker runs as root.");
  create->add_option("NAME", req->name, "1-64 letters, digits, '-', '_', '.'")->required();
  create->add_option("--size", *size, "e.g. 500MB, 1GB (1024-based) or bytes");
  create->add_option("--type", *type, "filesystem (default) or memory")
      ->check(CLI::IsMember({"filesystem", "memory"}));
  create->add_option("--worker", *worker, "the worker to hold it (default: the least loaded live worker)");
  create->callback([=] {
    wire::VolumeCreateMsg msg = *req;
    if (!size->empty()) msg.size = *size;
    if (!type->empty()) msg.type = *type;
    if (!worker->empty()) msg.worker = *worker;
    *exit_code = Create(*t, msg);
  });

  CLI::App* list = volume->add_subcommand("list", "List volumes: worker, type, size, path, jobs using them");
  list->alias("ls");
  list->callback([=] { *exit_code = List(*t); });

  auto name = std::make_shared<std::string>();
  CLI::App* rm = volume->add_subcommand("rm", "Remove a volume and its data (refused while a job uses it)");
  rm->alias("remove");
  rm->add_option("NAME", *name, "the volume's name")->required();
  rm->callback([=] { *exit_code = Remove(*t, *name); });
}

}  // namespace titan::cli
