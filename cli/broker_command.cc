// `titan broker`: serve the Titan broker in this process (built only when broker/ provides titan_broker).
#include <iostream>

#include "cli/commands.h"
#ifdef TITAN_HAVE_BROKER
#include "broker/broker.h"
#endif

namespace titan::cli {

#ifdef TITAN_HAVE_BROKER
namespace {

// Where it listens and keeps its data, and what it announces.
void AddAddressOptions(CLI::App* cmd, broker::BrokerOptions* o) {
  cmd->add_option("--port", o->port, "client port, the one users know (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--worker-port", o->worker_port, "port workers connect to (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--pub-port", o->pub_port, "port of the event and log feed (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--bind", o->bind, "interface for all three ports (0.0.0.0 for remote workers)")
      ->capture_default_str();
  cmd->add_option("--dir", o->dir, "data directory: the job journal, job logs and artifacts")
      ->capture_default_str();
  cmd->add_option(
      "--journal", o->journal,
      "the journal in PostgreSQL instead of DIR/broker.db: a URI such as "
      "postgresql://h1,h2/titan?target_session_attrs=read-write (password: ~/.pgpass or PGPASSWORD)");
  cmd->add_option("--journal-sync", o->journal_sync,
                  "full: each accepted change is on disk (fsync) before it is acknowledged; normal: in the "
                  "OS, which survives kill -9 of the broker but not a power loss (docs/operations.md)")
      ->check(CLI::IsMember({"full", "normal"}))
      ->capture_default_str();
  cmd->add_option("--lease-ttl-ms", o->lease_ttl_ms,
                  "with a PostgreSQL journal: the lease's TTL; a standby broker takes over once it expires")
      ->check(CLI::Range(300, 600000))
      ->capture_default_str();
  cmd->add_option("--journal-commits-in-flight", o->journal_commits_in_flight,
                  "with a PostgreSQL journal: turns' commits sent and not yet confirmed, the loop going on "
                  "meanwhile (their replies held until confirmed); 0: each turn waits for its commit")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  cmd->add_option("--advertise", o->advertise,
                  "with a PostgreSQL journal: the client address (host:port) standbys name to clients while "
                  "this broker leads (default: --bind and the client port; the hostname for 0.0.0.0)");
  cmd->add_option("--max-upload-mb", o->max_upload_mb, "the largest artifact a client may upload, in MiB")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--store-port", o->store_port, "TitanStore port to announce to clients (0: none)")
      ->capture_default_str();
  cmd->add_option("--store-host", o->store_host, "TitanStore host to announce (default: the broker's host)");
}

// How long finished jobs stay in memory and in the journal (docs/operations.md, "Finished jobs").
void AddRetentionOptions(CLI::App* cmd, broker::BrokerOptions* o) {
  cmd->add_option("--retain-finished-s", o->retain_finished_s,
                  "a finished submission leaves memory this many seconds after its last job ended; it is "
                  "still answered from the journal (0: no age limit)")
      ->check(CLI::Range(int64_t{0}, int64_t{100} * 365 * 86400))
      ->capture_default_str();
  cmd->add_option("--retain-finished-count", o->retain_finished_count,
                  "finished jobs kept in memory at most (about 1.6 KiB each); the oldest leave first (0: no "
                  "count limit)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--journal-retention-days", o->journal_retention_days,
                  "finished jobs and their logs are deleted from the journal this many days after they "
                  "ended (fractions allowed; 0: keep them forever)")
      ->check(CLI::Range(0.0, 36500.0))
      ->capture_default_str();
}

// Heartbeats, recovery, auto-scaling, salvage, audit retention, job retention and keys.
void AddBehaviourOptions(CLI::App* cmd, broker::BrokerOptions* o) {
  cmd->add_option("--heartbeat-ms", o->heartbeat_ms, "worker heartbeat interval")
      ->check(CLI::Range(50, 600000))
      ->capture_default_str();
  cmd->add_option(
         "--liveness", o->liveness,
         "heartbeats a silent worker may miss before it is lost and its jobs requeued; a worker that "
         "hears nothing from the broker for (liveness - 1.5) heartbeats, or for the recovery grace less "
         "half a heartbeat if that is shorter, kills its jobs (fencing)")
      ->check(CLI::Range(3, 1000))
      ->capture_default_str();
  cmd->add_option("--recovery-grace-ms", o->recovery_grace_ms,
                  "after a restart, how long journaled RUNNING jobs wait for their worker to return")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  cmd->add_option("--autoscale-max", o->autoscale_max,
                  "auto-scaling: child workers a worker may be asked to start on its machine (0: off)")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option("--autoscale-min", o->autoscale_min, "auto-scaling: idle child workers kept per machine")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  cmd->add_option("--scale-wait-ms", o->scale_wait_ms,
                  "auto-scaling: a job waiting this long with no free slot starts a child worker")
      ->check(CLI::Range(0, 3600000))
      ->capture_default_str();
  cmd->add_option("--scale-cooldown-ms", o->scale_cooldown_ms,
                  "auto-scaling: a child worker idle this long is retired")
      ->check(CLI::Range(0, 86400000))
      ->capture_default_str();
  cmd->add_flag("--salvage", o->salvage,
                "start even if journal rows cannot be read: skip them (each is logged) instead of refusing "
                "to start; see docs/operations.md");
  AddAuditRetentionOption(*cmd, &o->audit_retention_days);
  AddRetentionOptions(cmd, o);
  cmd->add_option("--keys", o->keys_dir,
                  "keys folder (titan keys init); default <dir>/keys. With keys every socket speaks CURVE");
  cmd->add_flag("--insecure", o->insecure,
                "no authentication or encryption even with keys or on a non-loopback --bind (logged)");
}

}  // namespace

void AddBrokerCommand(CLI::App& app, int* exit_code) {
  auto options = std::make_shared<broker::BrokerOptions>();
  auto log_format = std::make_shared<std::string>("text");
  CLI::App* cmd = app.add_subcommand("broker",
                                     "Serve the broker: accepts jobs, dispatches them to workers, "
                                     "publishes events and logs");
  AddAddressOptions(cmd, options.get());
  AddBehaviourOptions(cmd, options.get());
  AddLogFormatOption(*cmd, log_format.get());
  cmd->callback([options, log_format, exit_code] {
    ApplyLogFormat(*log_format, "broker");
    *exit_code = broker::RunBroker(*options);
  });
}
#else
void AddBrokerCommand(CLI::App& app, int* exit_code) {
  CLI::App* cmd = app.add_subcommand("broker", "Serve the broker (not built into this titan)");
  cmd->allow_extras();
  cmd->callback([exit_code] {
    std::cerr << "titan: this titan was built without the broker (broker/ had no titan_broker library); "
                 "rebuild with `cmake --build build --target titan` once it exists\n";
    *exit_code = kExitUsage;
  });
}
#endif

}  // namespace titan::cli
