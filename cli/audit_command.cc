// `titan audit`: the audit log of the broker (or, with --store, of TitanStore's --audit-writes), as a
// table or JSON. Admins only: the node answers anyone else FORBIDDEN.
#include <iostream>

#include "base/clock.h"
#include "cli/audit_view.h"
#include "cli/broker_client.h"
#include "cli/commands.h"
#include "security/audit_log.h"

namespace titan::cli {
namespace {

struct AuditArgs {
  std::string since, principal;
  int64_t limit = security::kAuditDefaultLimit;
  bool json = false;
  bool store = false;
};

int ListAudit(const Target& target, const AuditArgs& args) {
  wire::AuditListMsg request{.limit = args.limit};
  if (!args.since.empty()) {
    int64_t since_ms = 0;
    std::string error;
    if (!ParseSince(args.since, WallMs(), &since_ms, &error)) {
      std::cerr << "titan: " << error << '\n';
      return kExitUsage;
    }
    request.since_ms = since_ms;
  }
  if (!args.principal.empty()) request.principal = args.principal;
  BrokerClient node(target);
  wire::AuditListReplyMsg reply;
  const int rc =
      args.store ? node.CallStore(request.ToMessage(), &reply) : node.Call(request.ToMessage(), &reply);
  if (rc != kExitOk) return rc;
  if (reply.recording && !*reply.recording) {
    std::cerr
        << "titan: this store does not record its writes (it runs without --audit-writes), so its audit "
           "log has nothing new; start `titan store` with --audit-writes to record them\n";
  }
  std::cout << (args.json ? RenderAuditJson(reply.entries) : RenderAuditTable(reply.entries));
  if (reply.truncated) {
    std::cerr << "titan: showing the newest " << reply.entries.size()
              << " entries; see older ones with --limit or --since\n";
  }
  return kExitOk;
}

}  // namespace

void AddAuditRetentionOption(CLI::App& node, int64_t* days, const std::string& context) {
  node.add_option(
          "--audit-retention-days", *days,
          context + "delete audit log rows older than this many days, at start and hourly (0: keep them all)")
      ->check(CLI::Range(int64_t{0}, int64_t{36500}))
      ->capture_default_str();
}

void AddAuditCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto a = std::make_shared<AuditArgs>();
  CLI::App* cmd = app.add_subcommand(
      "audit", "Show the audit log: who changed what, and how it ended, oldest first (admins only)");
  cmd->add_option("--since", a->since,
                  "only entries since a duration ago (30m, 2h, 7d) or a time (2026-05-01, '2026-05-01 13:00' "
                  "local, 2026-05-01T13:00:00Z UTC)");
  cmd->add_option("--principal", a->principal, "only entries of this principal (e.g. alice, os:ops)");
  cmd->add_option("--limit", a->limit, "at most this many, the newest")
      ->check(CLI::Range(int64_t{1}, security::kAuditMaxLimit))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print a JSON array of AuditEntry objects instead of a table");
  cmd->add_flag(
      "--store", a->store,
      "TitanStore's audit log (its writes, when it runs with --audit-writes) instead of the broker's");
  const Target* t = &target;
  cmd->callback([=] { *exit_code = ListAudit(*t, *a); });
}

}  // namespace titan::cli
