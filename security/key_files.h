// A cluster's keys folder (by default `<data dir>/keys`, mode 0700; every file 0600):
//   server.yaml      the cluster's CURVE keypair (every server socket: broker and store)
//   principals.yaml  who may connect (principals.h)
//   admin.cred       the admin credential `titan keys init` makes (credential.h)
// `titan keys init|add|list|revoke` and `titan up` manage it; nodes only read it.
#pragma once

#include <string>

#include "base/status.h"
#include "security/credential.h"
#include "security/curve_keys.h"
#include "security/principals.h"

namespace titan::security {

struct KeyFiles {
  std::string dir;
  std::string server() const { return dir + "/server.yaml"; }
  std::string principals() const { return dir + "/principals.yaml"; }
  std::string admin_credential() const { return dir + "/admin.cred"; }
  // The principals of running jobs (the broker's log; followed by the store): public keys only
  // (job_key_log.h).
  std::string jobs() const { return dir + "/jobs.log"; }
};

// True when `dir` holds a server keypair.
bool HasServerKey(const KeyFiles& keys);
// Makes the folder, the server keypair, and the principal "admin" with its credential, unless the
// server key exists already (then nothing changes). Returns whether it made them.
Result<bool> InitKeys(const KeyFiles& keys, int64_t now_ms);
Result<Keypair> ReadServerKey(const KeyFiles& keys);
// A new principal with a fresh keypair; returns its credential (for the caller to write).
Result<Credential> AddPrincipal(const KeyFiles& keys, const std::string& name, Role role, int64_t now_ms);
Status RevokePrincipal(const KeyFiles& keys, const std::string& name, int64_t now_ms);

}  // namespace titan::security
