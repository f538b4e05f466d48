// How a server process (broker, store) secures its sockets. With the cluster's keys, every server
// socket speaks CURVE, a ZapHandler in the process's loop admits only known, unrevoked principals,
// and each request is checked against its sender's role (Authorize). Without keys a node runs in
// plaintext, and only on loopback (or when told --insecure, logged at every start).
// The keys folder is watched (inotify): a revocation or a new principal applies at once, to new
// connections by ZAP and to every request after it by Authorize; a revocation also closes the event
// subscriptions open (CloseSubscriptions). A new server key (`titan keys rotate`) is applied live: every
// secured socket is rebound with it, which closes every connection; peers reconnect with the new key.
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

// What changed in the keys folder, as OnPoll reports it.
struct KeysChange {
  // Principals of the principals file whose keys are no longer admitted (revoked, removed, re-issued).
  // The node closes what they hold: their workers (BrokerCore::RevokeWorkers), then, once the turn's
  // messages are sent, their event subscriptions (CloseSubscriptions). Requests on their connections
  // get FORBIDDEN.
  std::vector<std::string> revoked;
  bool rotated = false;  // a new server key is in use: every secured socket was rebound with it
  // For the audit log: what the principals file's reload changed (job principals are never listed), and
  // who changed it as far as a node can tell: "os:<user>", the file's owner (who last ran `titan keys`).
  std::vector<PrincipalChange> changes;
  std::string by;
};

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
  // (zap.h; nothing in plaintext mode), and remembers it, to rebind it when its connections must close.
  // Before bind (a socket is bound once, to one endpoint). `server` must outlive every OnPoll; the
  // node's loop must poll it (a PUB socket too, for ZMQ_POLLIN: libzmq closes the connections of an
  // unbound endpoint only while the socket's owner thread processes its commands).
  void Secure(zmq::socket_t& server, std::string_view domain = kClientDomain);
  // Poll items for the ZAP socket and the keys-folder watch; returns how many it filled (0 or 2).
  size_t AddPollItems(zmq::pollitem_t* items);
  // The poll timeout to use instead of `wanted` (ms, -1: none): short while a rebound socket waits
  // for its port (libzmq releases it asynchronously, in a few ms).
  int64_t PollTimeout(int64_t wanted) const;
  // After every poll: `items` as AddPollItems filled them. Reloads the keys folder when it changed,
  // applies a new server key (rebinding every secured socket), answers ZAP, and retries binds still
  // waiting.
  KeysChange OnPoll(const zmq::pollitem_t* items);
  // After the turn that handled `change` sent what it produced (so that its events, such as a revoked
  // worker's jobs requeued, still reach every subscriber: a socket's linger lets them leave): when
  // principals were revoked, rebinds the event sockets. That closes every subscription; the others
  // reconnect at once, the revoked ones are refused by ZAP.
  void CloseSubscriptions(const KeysChange& change);
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
  // Revokes every job credential but those of `running` job ids (a restarted broker: the jobs log
  // still names jobs that ended, or were requeued, while it was down).
  void RetainJobCredentials(const std::vector<std::string>& running);
  // Appends the job principals that changed to the jobs log (job_key_log.h; no fsync: a lost tail costs
  // running jobs their access, nothing else). Logged when it fails.
  void SaveJobCredentials();
  int64_t refused() const { return zap_ ? zap_->refused() : 0; }

 private:
  // A socket Secure() saw, and its endpoint once it has been unbound to close its connections.
  struct Listener {
    zmq::socket_t* socket;
    std::string domain;
    std::string endpoint;    // as bound (ZMQ_LAST_ENDPOINT): set at the first rebind
    bool unbound = false;    // waiting for its port to bind again
    int64_t unbound_at = 0;  // monotonic ms
  };

  ServerSecurity() = default;
  // Reloads the principals (and, when `jobs`, another node's jobs log) into `change`: the principals of
  // the file that lost access, and what changed for the audit log.
  void Reload(bool jobs, KeysChange* change);
  // server.yaml again: true when it holds a new key, now set on every secured socket and rebound.
  bool ApplyServerKey();
  // Unbinds `l` (closing every connection it accepted) and binds it again, now or in a later OnPoll.
  void Rebind(Listener& l);
  void BindAgain(Listener& l);
  void LoadJobPrincipals();   // what the jobs log gained into jobs_ (logged when it cannot be read)
  void AddJobPrincipals();    // principals_ = the file's (file_) and the jobs' (jobs_)
  JobKeyWriter& JobWriter();  // made on first use: this process mints job credentials

  std::string node_;  // "broker", "store": for messages
  KeyFiles keys_;
  Keypair server_;
  Principals file_;        // the principals file, as last loaded
  Principals principals_;  // the principals file's, then the jobs'
  Principals jobs_;        // the job principals (the broker's own, or as read from the jobs log)
  std::unique_ptr<JobKeyReader> job_reader_;  // following another node's jobs log
  std::unique_ptr<JobKeyWriter>
      job_writer_;  // once this process mints job credentials: its memory is the truth
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<KeyMint> mint_;  // with mints_job_keys
  exec::UniqueFd watch_;
  std::vector<Listener> listeners_;
};

}  // namespace titan::security
