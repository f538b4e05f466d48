// `titan store`: serve TitanStore in this process. `titan store get KEY` / `titan store set KEY VALUE`:
// the original Titan's shell commands for TitanStore, as clients (the same calls as `titan kv`).
#include "cli/commands.h"
#include "cli/kv_call.h"
#include "schemas/generated/messages.h"
#include "store/store.h"

namespace titan::cli {
namespace {

// get and set. A --port written after them falls through to the node's own --port: for a client that
// names where to ask (`titan store get k --port 9190`), so it replaces the target's port.
void AddStoreClients(CLI::App& store, const CLI::Option& store_port, const store::StoreOptions& options,
                     const Target& target, int* exit_code) {
  auto key = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  auto where = [port = &store_port, node = &options, t = &target] {
    Target at = *t;
    if (port->count() > 0) at.port = node->port;
    return at;
  };
  auto value_of = [](const std::string& s) { return wire::Value{s, wire::IsValidUtf8(s)}; };
  CLI::App* get = store.add_subcommand("get", "Print the value of KEY in TitanStore (exit 1 when missing)");
  get->add_option("KEY", *key)->required();
  get->callback([=] {
    *exit_code =
        StoreCall(where(), wire::StoreGetMsg{value_of(*key)}.ToMessage(), wire::MsgType::kStoreValue);
  });
  CLI::App* set = store.add_subcommand("set", "Set KEY to VALUE in TitanStore (VALUE as written)");
  set->add_option("KEY", *key)->required();
  set->add_option("VALUE", *value)->required();
  set->callback([=] {
    const wire::StorePutMsg put{value_of(*key), value_of(*value)};
    *exit_code = StoreCall(where(), put.ToMessage(), wire::MsgType::kStoreOk);
  });
}

}  // namespace

void AddStoreCommand(CLI::App& app, const Target& target, int* exit_code) {
  auto options = std::make_shared<store::StoreOptions>();
  CLI::App* cmd = app.add_subcommand("store", "Serve TitanStore, the shared key-value and set store");
  cmd->footer(
      "`titan store get KEY` and `titan store set KEY VALUE` read and write it instead, through the\n"
      "broker at the global --host/--port (as `titan kv get|put` do).");
  CLI::Option* port =
      cmd->add_option("--port", options->port, "port to listen on (0: any free port)")->capture_default_str();
  cmd->add_option("--bind", options->bind, "interface to listen on (0.0.0.0 for remote clients)")
      ->capture_default_str();
  cmd->add_option("--dir", options->dir, "data directory")->capture_default_str();
  cmd->add_flag("!--no-sync", options->durable,
                "do not fsync commits (faster; a crash may lose recent writes)");
  cmd->add_option("--keys", options->keys_dir,
                  "keys folder (titan keys init); default <dir>/keys. With keys, clients need a credential");
  cmd->add_flag("--insecure", options->insecure,
                "no authentication or encryption even with keys or on a non-loopback --bind (logged)");
  cmd->add_option("--max-batch", options->max_batch, "requests per transaction")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->add_flag("--audit-writes", options->audit_writes,
                "record each write (principal, action, key, outcome; never the value) in the audit log of "
                "store.db, read with `titan audit --store`");
  AddAuditRetentionOption(*cmd, &options->audit_retention_days, "with --audit-writes: ");
  auto log_format = std::make_shared<std::string>("text");
  AddLogFormatOption(*cmd, log_format.get());
  cmd->require_subcommand(0, 1);
  AddStoreClients(*cmd, *port, *options, target, exit_code);
  cmd->callback([cmd, options, log_format, exit_code] {
    if (!cmd->get_subcommands().empty()) return;  // get/set: a client
    ApplyLogFormat(*log_format, "store");
    *exit_code = store::RunStore(*options);
  });
}

}  // namespace titan::cli
