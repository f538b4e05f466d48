// TitanStore node: the public face of store/. `titan store` fills StoreOptions from flags and calls
// RunStore; `titan up` runs the same node in a child process.
#pragma once

#include <cstddef>
#include <string>

namespace titan::store {

struct StoreOptions {
  std::string bind = "127.0.0.1";  // interface to listen on ("0.0.0.0" for remote clients)
  int port = 9091;                 // 0: any free port (announced on the READY line)
  std::string dir = "titan-data/store";
  bool durable = true;     // false: no fsync (faster; a crash may lose recent writes)
  size_t max_batch = 512;  // requests applied per transaction (one fsync each)
  // --audit-writes: each write request (and each FORBIDDEN refusal) is recorded in the audit log of
  // store.db, in the transaction of its batch: principal, action, key, outcome; never a value.
  bool audit_writes = false;
  int64_t audit_retention_days = 90;  // audit rows older than this are deleted, at start and hourly; 0: kept
  // CURVE keys (security/key_files.h; empty: "<dir>/keys") and --insecure (security/server_security.h).
  std::string keys_dir;
  bool insecure = false;
};

// Serves until SIGINT/SIGTERM. Prints "READY store tcp://HOST:PORT" once bound. Returns the process
// exit code (0 on a clean stop; 1 with a logged reason when it cannot start).
int RunStore(const StoreOptions& options);

}  // namespace titan::store
