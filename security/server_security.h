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
#include <zmq.hpp>

#include "base/status.h"
#include "base/unique_fd.h"
#include "schemas/generated/messages.h"
#include "schemas/generated/protocol.h"
#include "security/job_key_log.h"
#include "security/key_files.h"
#include "security/key_mint.h"
#include "security/zap.h"

namespace titan::security {

struct SecurityOptions {
  std::string keys_dir;         // the keys folder (key_files.h); empty: none
  bool insecure = false;        // --insecure: plaintext even where keys exist or the address is not loopback
  bool mints_job_keys = false;  // the broker: job credentials' keypairs are made ahead (key_mint.h)
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
  // After poll: `items` as AddPollItems filled them.
  void OnPoll(const zmq::pollitem_t* items);
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
  // Revokes every job credential but those of `running` job ids (a restarted broker: the jobs file
  // still names jobs that ended, or were requeued, while it was down).
  void RetainJobCredentials(const std::vector<std::string>& running);
  // Appends the job principals that changed to the jobs log (job_key_log.h; no fsync: a lost tail costs
  // running jobs their access, nothing else). Logged when it fails.
  void SaveJobCredentials();
  int64_t refused() const { return zap_ ? zap_->refused() : 0; }

 private:
  ServerSecurity() = default;
  void Reload();
  void LoadJobPrincipals();   // what the jobs log gained into jobs_ (logged when it cannot be read)
  void AddJobPrincipals();    // principals_ = the file's (file_principals_) and the jobs' (jobs_)
  JobKeyWriter& JobWriter();  // made on first use: this process mints job credentials

  KeyFiles keys_;
  Keypair server_;
  Principals principals_;       // the principals file's, then the jobs'
  Principals file_principals_;  // the principals file's
  Principals jobs_;             // the job principals (the broker's own, or as read from the jobs log)
  std::unique_ptr<JobKeyReader> job_reader_;  // following another node's jobs log
  std::unique_ptr<JobKeyWriter>
      job_writer_;  // once this process mints job credentials: its memory is the truth
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<KeyMint> mint_;  // with mints_job_keys
  exec::UniqueFd watch_;
};

}  // namespace titan::security
