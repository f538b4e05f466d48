// A cluster's keys folder (by default `<data dir>/keys`, mode 0700; every file 0600):
//   server.yaml      the cluster's CURVE keypair (every server socket: broker and store)
//   server.previous.yaml  the keypair `titan keys rotate` replaced (what `--rollback` goes back to)
//   principals.yaml  who may connect (principals.h)
//   admin.cred       the admin credential `titan keys init` makes (credential.h); any *.cred here is
//                    "managed": `titan keys rotate` rewrites its server key
// `titan keys init|add|list|revoke|reissue|rotate` and `titan up` manage it; nodes only read it.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "security/credential.h"
#include "security/curve_keys.h"
#include "security/principals.h"

namespace titan::security {

struct KeyFiles {
  std::string dir;
  std::string server() const { return dir + "/server.yaml"; }
  std::string previous_server() const { return dir + "/server.previous.yaml"; }
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
// A fresh keypair for the active principal `name`, with its role and the current server key; its old
// key is refused from now on. Returns the credential (for the caller to write). NOT_FOUND for an
// unknown name, INVALID for a revoked one.
Result<Credential> ReissuePrincipal(const KeyFiles& keys, const std::string& name);

// What RotateServerKey did.
struct Rotation {
  std::string public_key;              // the server key in use now
  std::string previous_key;            // the one it replaced, kept in server.previous.yaml
  std::vector<std::string> rewritten;  // the folder's credential files, now naming public_key
  std::vector<std::string> skipped;    // "<file>: why" for a *.cred of the folder that is not a credential
  std::vector<Principal> unreached;    // active principals with no credential in the folder: theirs name the
                                       // old key until re-issued (ReissuePrincipal)
};

// Replaces the server keypair: by a fresh one, or with `rollback` by the one in server.previous.yaml.
// The keypair replaced is kept in server.previous.yaml. Every credential file of the folder gets the
// new server key (its keypair unchanged) before server.yaml changes, which nodes watching the folder
// apply at once (ServerSecurity), so local clients that re-read their file after a refused handshake
// find the new key. A fresh key writes server.previous.yaml first, a rollback last: a crash midway
// leaves a folder the same command completes (a rollback interrupted after server.yaml keeps the key it
// went back to, and forgets the one it left).
Result<Rotation> RotateServerKey(const KeyFiles& keys, bool rollback);

}  // namespace titan::security
