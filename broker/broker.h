// The Titan broker: accepts jobs from clients, dispatches them to workers, journals every accepted
// job and transition, and publishes events and logs. `titan broker` fills BrokerOptions from flags.
#pragma once

#include <string>

namespace titan::broker {

struct BrokerOptions {
  std::string bind = "127.0.0.1";         // interface for all three sockets ("0.0.0.0" for remote workers)
  int port = 9090;                        // client ROUTER: the one address users know; 0 = any free port
  int worker_port = 9092;                 // worker ROUTER, announced in WELCOME; 0 = any free port
  int pub_port = 9093;                    // event PUB, announced in WELCOME; 0 = any free port
  std::string dir = "titan-data/broker";  // journal (broker.db), job logs (logs/), artifacts (artifacts/)
  // Where the journal lives: empty, the SQLite file <dir>/broker.db; a postgresql:// URI (anything libpq
  // accepts), that PostgreSQL database (docs/operations.md, "The journal on PostgreSQL").
  std::string journal;
  // The SQLite journal's commits: "full" (the default) makes each turn durable on disk (fsync) before any
  // reply; "normal" hands it to the OS, which survives kill -9 of the broker but not a power loss or a
  // kernel crash (on disk at each WAL checkpoint; docs/operations.md, "Durability").
  std::string journal_sync = "full";
  // With a PostgreSQL journal: the lease's TTL. The broker holding the lease renews it every third of
  // this; a second broker on the same journal waits as a standby and takes over once it expires.
  int lease_ttl_ms = 4000;
  // With a PostgreSQL journal: how many turns' transactions may be sent and not yet confirmed. The loop
  // does not wait for a commit: it holds the turn's replies and events until the server confirms it, and
  // a turn ending while this many are in flight joins the next transaction (group commit). 0: each turn
  // waits for its commit, as on SQLite.
  int journal_commits_in_flight = 1;
  // With a PostgreSQL journal: the client address (host:port) recorded in the lease while this broker
  // leads, which standbys name in their NOT_LEADER answers. Empty: --bind (the hostname when it is a
  // wildcard) and the client port bound.
  std::string advertise;
  int64_t max_upload_mb = 65536;  // the largest artifact a client may upload
  int store_port = 0;             // TitanStore to announce; 0 = none
  std::string store_host;         // empty: clients use the host they reached the broker with
  int heartbeat_ms = 1000;        // worker heartbeat interval
  // Heartbeats a silent worker may miss before it is lost (its runs requeued). Its fencing lease, in
  // WORKER_WELCOME (broker::LeaseMs), ends before this broker or a restarted one would give its runs
  // away: a worker out of contact that long kills its runs.
  int liveness = 10;
  int recovery_grace_ms = 10000;  // after a restart, how long journaled RUNNING jobs wait for their worker
  // Auto-scaling: workers may be asked to start child workers on their machine (off: max 0).
  int autoscale_max = 0;          // child workers per machine
  int autoscale_min = 0;          // idle child workers kept
  int scale_wait_ms = 2000;       // a job waiting this long with no free slot asks for a child
  int scale_cooldown_ms = 30000;  // an idle child worker is retired after this long
  // Start even when journal rows cannot be read: skip them (each logged as an error) instead of
  // refusing to start. A damaged file (SQLite cannot read it) still refuses.
  bool salvage = false;
  // Audit log rows (docs/security.md) older than this many days are deleted, at start and hourly; 0 keeps
  // them forever.
  int64_t audit_retention_days = 90;
  // Retention of finished jobs (docs/operations.md, "Finished jobs"). A submission whose jobs have all
  // ended leaves memory this many seconds after its last job ended, or sooner, oldest first, while more
  // than retain_finished_count such jobs are held (about 1.6 KiB each); it is still answered from the
  // journal. 0 turns either limit off. Finished jobs and their logs leave the journal after
  // journal_retention_days (fractions allowed; 0: kept forever).
  int64_t retain_finished_s = 3600;
  int64_t retain_finished_count = 50000;
  double journal_retention_days = 30;
  // CURVE keys (security/key_files.h; empty: "<dir>/keys") and --insecure (security/server_security.h).
  std::string keys_dir;
  bool insecure = false;
};

// Serves until SIGINT/SIGTERM. Prints "READY broker tcp://HOST:PORT" once all sockets are bound.
// Returns the process exit code.
int RunBroker(const BrokerOptions& options);

}  // namespace titan::broker
