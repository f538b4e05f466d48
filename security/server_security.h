// How a server process (broker, store) secures its sockets. With the cluster's keys, every server
// socket speaks CURVE, a ZapHandler in the process's loop admits only known, unrevoked principals,
// and each request is checked against its sender's role (Authorize). Without keys a node runs in
// plaintext, and only on loopback (or when told --insecure, logged at every start).
// The keys folder is watched (inotify): a revocation or a new principal applies at once, to new
// connections by ZAP and to every request after it by Authorize.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "base/status.h"
#include "base/unique_fd.h"
#include "schemas/generated/messages.h"
#include "schemas/generated/protocol.h"
#include "security/key_files.h"
#include "security/zap.h"

namespace titan::security {

struct SecurityOptions {
  std::string keys_dir;   // the keys folder (key_files.h); empty: none
  bool insecure = false;  // --insecure: plaintext even where keys exist or the address is not loopback
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopback(const std::string& bind);

class ServerSecurity {
 public:
  // `node` names the process in messages ("broker", "store"); `bind` is the address it listens on.
  // Refuses (with what to do) a non-loopback bind without keys unless `insecure`.
  static Result<std::unique_ptr<ServerSecurity>> Open(zmq::context_t& ctx, const SecurityOptions& options,
                                                      const std::string& bind, const std::string& node);
  ~ServerSecurity();

  bool curve() const { return zap_ != nullptr; }
  const std::string& public_key() const { return server_.public_key; }
  // Makes `server` a CURVE server with the cluster's key, admitting peers by the rules of ZAP `domain`
  // (zap.h; nothing in plaintext mode). Before bind.
  void Secure(zmq::socket_t& server, std::string_view domain = kClientDomain) const;
  // Poll items for the ZAP socket and the keys-folder watch; returns how many it filled (0 or 2).
  size_t AddPollItems(zmq::pollitem_t* items);
  // What a reload of the principals file changed, for the audit log. `by` is who changed it as far as a
  // node can tell: "os:<user>", the file's owner (the account that last ran `titan keys` on it).
  struct KeyChanges {
    std::string by;
    std::vector<PrincipalChange> changes;  // empty: nothing changed (job principals are never listed)
  };
  // After poll: `items` as AddPollItems filled them. Returns what the principals file's reload changed.
  KeyChanges OnPoll(const zmq::pollitem_t* items);
  // Ok, or FORBIDDEN naming the principal, its role, the message and the permission it needs.
  // An empty `user_id` (plaintext mode) is allowed everything.
  Status Authorize(const std::string& user_id, const wire::MessageSpec& spec) const;
  // For the worker socket, whose dialog (registration, results, the job files it reads) is the worker
  // permission's: ok while `user_id`'s role grants it and it is not revoked.
  Status AuthorizeWorker(const std::string& user_id) const;
  const Principals& principals() const { return principals_; }

  // Job credentials (the broker's): a fresh keypair for principal "job-<id>" (role submitter), admitted
  // from now on here and, once SaveJobCredentials wrote it, by every node that reads this keys folder.
  // nullopt in plaintext mode.
  std::optional<wire::JobCredential> MintJobCredential(const std::string& job_id);
  // Revokes the credential of job `id`, if it has one.
  void DropJobCredential(const std::string& job_id);
  // Writes the job principals file when it changed (no fsync: a lost file costs running jobs their
  // access, nothing else). Logged when it fails.
  void SaveJobCredentials();
  int64_t refused() const { return zap_ ? zap_->refused() : 0; }

 private:
  ServerSecurity() = default;
  // Reads the keys folder again; the changes to the principals file's own principals.
  std::vector<PrincipalChange> Reload();
  void LoadJobPrincipals();  // jobs.yaml into jobs_ (kept as it was when the file cannot be read)
  void AddJobPrincipals();   // job principals (jobs_) into principals_

  KeyFiles keys_;
  Keypair server_;
  Principals principals_;  // the principals file's, then the jobs'
  Principals file_;        // the principals file's alone, as last read (what a reload is compared with)
  Principals jobs_;        // the job principals (the broker's own, or as read from jobs.yaml)
  bool jobs_dirty_ = false;
  bool jobs_ours_ = false;  // this process mints job credentials: its memory, not the file, is the truth
  std::unique_ptr<ZapHandler> zap_;
  exec::UniqueFd watch_;
};

}  // namespace titan::security
