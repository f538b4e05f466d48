// `titan approve GATE` and `titan reject GATE`: decide a human-in-the-loop gate (hitl-gate-<job id>).
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "cli/broker_client.h"
#include "cli/commands.h"
#include "cli/job_view.h"

namespace titan::cli {
namespace {

struct DecideArgs {
  std::string gate, reason, by;
};

// $USER, else the login name of this process's user; empty when neither is known.
std::string DefaultDecider() {
  if (const char* user = std::getenv("USER"); user != nullptr && *user != '\0') return user;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_name != nullptr) return pw->pw_name;
  return "";
}

int Decide(const Target& target, const DecideArgs& args, bool approve) {
  wire::GateDecideMsg request{.id = args.gate, .approve = approve};
  if (!args.reason.empty()) request.reason = args.reason;
  const std::string by = args.by.empty() ? DefaultDecider() : args.by;
  if (!by.empty()) request.by = by;
  BrokerClient broker(target);
  wire::JobInfoMsg reply;
  if (const int rc = broker.Call(request.ToMessage(), &reply); rc != kExitOk) return rc;
  const JobView gate = reply.job ? JobFromInfo(*reply.job) : JobView{args.gate};
  std::cout << gate.id << ' ' << gate.state << (gate.reason.empty() ? "" : ": " + gate.reason) << '\n';
  return kExitOk;
}

CLI::App* AddDecision(CLI::App& app, const char* name, const char* help,
                      const std::shared_ptr<DecideArgs>& a) {
  CLI::App* cmd = app.add_subcommand(name, help);
  cmd->add_option("GATE", a->gate,
                  "the gate: hitl-gate-<job id> (`titan jobs --state WAITING_APPROVAL` lists them)")
      ->required();
  cmd->add_option(
      "--by", a->by,
      "who decides, recorded on the gate (default: $USER); with keys, beside the credential's principal");
  return cmd;
}

}  // namespace

void AddGateCommands(CLI::App& app, const Target& target, int* exit_code) {
  const Target* t = &target;
  auto approve = std::make_shared<DecideArgs>();
  CLI::App* yes = AddDecision(app, "approve", "Approve a gate: the jobs after it may run", approve);
  yes->callback([=] { *exit_code = Decide(*t, *approve, true); });

  auto reject = std::make_shared<DecideArgs>();
  CLI::App* no =
      AddDecision(app, "reject", "Reject a gate: it FAILS and the jobs after it are SKIPPED", reject);
  no->add_option("--reason", reject->reason, "why, recorded with the decision");
  no->callback([=] { *exit_code = Decide(*t, *reject, false); });
}

}  // namespace titan::cli
