// `titan store`: serve TitanStore in this process.
#include "commands.h"
#include "store.h"

namespace titan::cli {

void AddStoreCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<store::StoreOptions>();
  CLI::App* cmd = app.add_subcommand("store", "Serve TitanStore, the shared key-value and set store");
  cmd->add_option("--port", options->port, "port to listen on (0: any free port)")->capture_default_str();
  cmd->add_option("--bind", options->bind, "interface to listen on (0.0.0.0 for remote clients)")
      ->capture_default_str();
  cmd->add_option("--dir", options->dir, "data directory")->capture_default_str();
  cmd->add_flag("!--no-sync", options->durable,
                "do not fsync commits (faster; a crash may lose recent writes)");
  cmd->add_option("--max-batch", options->max_batch, "requests per transaction")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  cmd->callback([options, exit_code] { *exit_code = store::RunStore(*options); });
}

}  // namespace titan::cli
