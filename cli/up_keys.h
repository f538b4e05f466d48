// The keys `titan up` runs with (docs/security.md): made in <data dir>/keys on first start (the server
// keypair, the admin credential, and a `workers` principal whose credential its workers use), and a
// link to the admin credential where clients on this machine look for it (ClusterLink), removed when
// `titan up` stops.
#pragma once

#include <string>

#include "base/status.h"

namespace titan::cli {

struct UpKeys {
  std::string dir;                // the keys folder; empty: plaintext (--insecure)
  std::string admin_credential;   // absolute
  std::string worker_credential;  // absolute
};

// Makes (once) and returns the keys under `data_dir`; an error says what failed.
Result<UpKeys> PrepareUpKeys(const std::string& data_dir);

// Links ClusterLink(host, port) to the admin credential (replacing an older link); returns the link's
// path, or "" (after printing why) when it could not be made.
std::string LinkCredential(const UpKeys& keys, const std::string& host, int port);

}  // namespace titan::cli
