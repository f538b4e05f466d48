// ServerSecurity: mode choice, CURVE server options, the keys-folder watch and role checks.
#include "security/server_security.h"

#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/clock.h"

namespace titan::security {
namespace {

// "job-<id>", with characters a principal name may not hold replaced by '_'.
std::string JobPrincipalName(const std::string& job_id) {
  std::string name = "job-";
  for (const char c : job_id.substr(0, 59)) name += IsPrincipalNameChar(c) ? c : '_';
  return name;
}

// "os:<user>" for the owner of `path`; "os:<uid>" when the account has no name, "os:unknown" when the file
// cannot be read.
std::string FileOwner(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "os:unknown";
  struct passwd pw {};
  struct passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(st.st_uid, &pw, buf, sizeof buf, &found) == 0 && found != nullptr) {
    return "os:" + std::string(found->pw_name);
  }
  return "os:" + std::to_string(st.st_uid);
}

}  // namespace

bool IsLoopback(const std::string& bind) {
  return bind == "localhost" || bind == "::1" || bind.rfind("127.", 0) == 0;
}

Result<std::unique_ptr<ServerSecurity>> ServerSecurity::Open(zmq::context_t& ctx,
                                                             const SecurityOptions& options,
                                                             const std::string& bind,
                                                             const std::string& node) {
  std::unique_ptr<ServerSecurity> s(new ServerSecurity());
  s->node_ = node;
  s->keys_.dir = options.keys_dir;
  const bool have_keys = !options.keys_dir.empty() && HasServerKey(s->keys_);
  if (options.insecure || !have_keys) {
    if (!options.insecure && !IsLoopback(bind)) {
      return Status::Invalid(node + ": refusing to listen on " + bind +
                             " without keys: anyone who reaches it could " +
                             "run code on the workers. Make keys with `titan keys init --dir DIR` (or use " +
                             "`titan up`), or pass --insecure to accept that risk");
    }
    if (options.insecure) {
      spdlog::warn("{}: INSECURE: --insecure given; listening on {} with no authentication or encryption",
                   node, bind);
    } else {
      spdlog::info("{}: no keys in '{}': plaintext on loopback only", node, options.keys_dir);
    }
    return s;
  }
  Result<Keypair> server = ReadServerKey(s->keys_);
  if (!server.ok()) return server.status();
  s->server_ = *server;
  Result<Principals> principals = Principals::Load(s->keys_.principals());
  if (!principals.ok()) return principals.status();
  s->file_ = *principals;
  s->principals_ = std::move(*principals);
  s->job_reader_ = std::make_unique<JobKeyReader>(s->keys_.jobs());
  s->LoadJobPrincipals();
  s->AddJobPrincipals();
  s->zap_ = std::make_unique<ZapHandler>(ctx);
  if (options.mints_job_keys) s->mint_ = std::make_unique<KeyMint>(ctx);
  s->watch_.Reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!s->watch_.valid() || inotify_add_watch(s->watch_.get(), options.keys_dir.c_str(),
                                              IN_CLOSE_WRITE | IN_MOVED_TO | IN_MODIFY) < 0) {
    return Status::Error(node + ": cannot watch the keys folder '" + options.keys_dir + "' for revocations");
  }
  spdlog::info("{}: CURVE on; {} principals in {}", node, s->principals_.all().size(), s->keys_.principals());
  return s;
}

ServerSecurity::~ServerSecurity() = default;

void ServerSecurity::Secure(zmq::socket_t& server, std::string_view domain) {
  if (!curve()) return;
  server.set(zmq::sockopt::curve_server, 1);
  server.set(zmq::sockopt::curve_secretkey, server_.secret_key);
  server.set(zmq::sockopt::zap_domain, std::string(domain));
  listeners_.push_back(Listener{&server, std::string(domain)});
}

size_t ServerSecurity::AddPollItems(zmq::pollitem_t* items) {
  if (!curve()) return 0;
  items[0] = zap_->PollItem();
  items[1] = {nullptr, watch_.get(), ZMQ_POLLIN, 0};
  return 2;
}

int64_t ServerSecurity::PollTimeout(int64_t wanted) const {
  constexpr int64_t kRetryBindMs = 2;
  const bool waiting =
      std::any_of(listeners_.begin(), listeners_.end(), [](const Listener& l) { return l.unbound; });
  if (!waiting) return wanted;
  return wanted < 0 ? kRetryBindMs : std::min(wanted, kRetryBindMs);
}

KeysChange ServerSecurity::OnPoll(const zmq::pollitem_t* items) {
  KeysChange change;
  if (!curve()) return change;
  for (Listener& l : listeners_) {
    if (l.unbound) BindAgain(l);
  }
  if (items[1].revents & ZMQ_POLLIN) {
    // Reload for a new server key or principals file, or another process's jobs file; not for this
    // process's own jobs file, the previous server key, or the temporary files writers rename into place.
    bool server = false, principals = false, jobs = false;
    alignas(inotify_event) char buf[4096];
    for (ssize_t n; (n = ::read(watch_.get(), buf, sizeof buf)) > 0;) {
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        const std::string name = e->len ? e->name : "";
        server = server || name == "server.yaml";
        principals = principals || name == "principals.yaml";
        jobs = jobs || (name == "jobs.log" && !job_writer_);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
    if (server) change.rotated = ApplyServerKey();
    if (principals) {
      Reload(jobs, &change);
    } else if (jobs) {  // another node's jobs log grew: only its new lines are read
      LoadJobPrincipals();
      AddJobPrincipals();
    }
  }
  if (items[0].revents & ZMQ_POLLIN) zap_->Serve(principals_);
  return change;
}

void ServerSecurity::CloseSubscriptions(const KeysChange& change) {
  if (change.revoked.empty() || change.rotated) return;  // a rotation rebound every socket already
  std::string names;
  for (const std::string& name : change.revoked) names += (names.empty() ? "'" : ", '") + name + "'";
  spdlog::warn("{}: {} lost access: closing every event subscription (the others reconnect)", node_, names);
  for (Listener& l : listeners_) {
    if (l.domain == kEventsDomain) Rebind(l);
  }
}

bool ServerSecurity::ApplyServerKey() {
  Result<Keypair> now = ReadServerKey(keys_);
  if (!now.ok()) {
    spdlog::error("{}: keeping the server key in use: {}", node_, now.message());
    return false;
  }
  if (now->public_key == server_.public_key) return false;
  server_ = std::move(*now);
  spdlog::warn("{}: new server key {}...: closing every connection; peers reconnect with the new key", node_,
               server_.public_key.substr(0, 8));
  for (Listener& l : listeners_) {
    l.socket->set(zmq::sockopt::curve_secretkey, server_.secret_key);
    Rebind(l);
  }
  return true;
}

void ServerSecurity::Rebind(Listener& l) {
  if (l.unbound) return;  // waiting to bind again already: it will, with the options it has now
  if (l.endpoint.empty()) l.endpoint = l.socket->get(zmq::sockopt::last_endpoint);
  try {
    l.socket->unbind(l.endpoint);
  } catch (const zmq::error_t& e) {
    spdlog::error("{}: cannot unbind {} to close its connections: {}", node_, l.endpoint, e.what());
    return;
  }
  l.unbound = true;
  l.unbound_at = MonoMs();
  BindAgain(l);
}

void ServerSecurity::BindAgain(Listener& l) {
  try {
    l.socket->bind(l.endpoint);
    l.unbound = false;
    return;
  } catch (const zmq::error_t& e) {
    constexpr int64_t kReportMs = 1000;
    if (e.num() == EADDRINUSE && MonoMs() - l.unbound_at < kReportMs) return;  // libzmq still closing it
    spdlog::error("{}: cannot listen on {} again: {}; retrying (is another process on that port?)", node_,
                  l.endpoint, e.what());
    l.unbound_at = MonoMs();
  }
}

void ServerSecurity::Reload(bool jobs, KeysChange* change) {
  Result<Principals> now = Principals::Load(keys_.principals());
  if (!now.ok()) {
    spdlog::error("{}: keeping the principals loaded before: {}", node_, now.message());
    return;
  }
  change->revoked = LostAccess(file_, *now);
  change->changes = DiffPrincipals(file_, *now);
  if (!change->changes.empty()) change->by = FileOwner(keys_.principals());
  file_ = std::move(*now);
  if (jobs)
    LoadJobPrincipals();  // another node's jobs log (the store follows the broker's); ours is in memory
  AddJobPrincipals();
}

void ServerSecurity::LoadJobPrincipals() {
  if (Status st = job_reader_->Follow(&jobs_); !st.ok()) spdlog::error("job principals: {}", st.message());
}

void ServerSecurity::AddJobPrincipals() {
  principals_ = file_;
  for (const Principal& p : jobs_.all()) {
    if (p.name.rfind("job-", 0) == 0) (void)principals_.Add(p);  // never one of the file's names
  }
}

JobKeyWriter& ServerSecurity::JobWriter() {
  if (!job_writer_) job_writer_ = std::make_unique<JobKeyWriter>(keys_.jobs());
  return *job_writer_;
}

std::optional<wire::JobCredential> ServerSecurity::MintJobCredential(const std::string& job_id) {
  if (!curve()) return std::nullopt;
  Result<Keypair> k = mint_ ? mint_->Take() : NewKeypair();
  if (!k.ok()) {
    spdlog::error("no credential for job {}: {}", job_id, k.message());
    return std::nullopt;
  }
  const std::string name = JobPrincipalName(job_id);
  DropJobCredential(job_id);
  const Principal p{name, k->public_key, Role::kSubmitter, 0, 0};
  (void)jobs_.Add(p);
  (void)principals_.Add(p);
  JobWriter().Added(p);
  return wire::JobCredential{name, k->public_key, k->secret_key, server_.public_key};
}

void ServerSecurity::DropJobCredential(const std::string& job_id) {
  if (!curve()) return;
  const std::string name = JobPrincipalName(job_id);
  if (jobs_.FindName(name) == nullptr) return;
  jobs_.Remove(name);
  principals_.Remove(name);
  JobWriter().Removed(name);
}

void ServerSecurity::RetainJobCredentials(const std::vector<std::string>& running) {
  if (!curve()) return;
  std::set<std::string> keep;
  for (const std::string& id : running) keep.insert(JobPrincipalName(id));
  std::vector<std::string> stale;
  for (const Principal& p : jobs_.all()) {
    if (!keep.count(p.name)) stale.push_back(p.name);
  }
  for (const std::string& name : stale) {
    jobs_.Remove(name);
    principals_.Remove(name);
  }
  (void)JobWriter();  // from now on this process's memory is the truth: its first Flush rewrites the log
  if (!stale.empty())
    spdlog::info("revoked {} job credentials of runs that ended while the broker was down", stale.size());
}

void ServerSecurity::SaveJobCredentials() {
  if (!job_writer_ || !job_writer_->dirty()) return;
  if (Status s = job_writer_->Flush(jobs_); !s.ok()) spdlog::error("job principals: {}", s.message());
}

Status ServerSecurity::AuthorizeWorker(const std::string& user_id) const {
  static const wire::MessageSpec kWorkerDialog{.name = "worker messages",
                                               .permission = wire::Permission::kWorker};
  return Authorize(user_id, kWorkerDialog);
}

Status ServerSecurity::Authorize(const std::string& user_id, const wire::MessageSpec& spec) const {
  if (!curve() || spec.permission == wire::Permission::kNone) return Status::Ok();
  const Principal* p = principals_.FindName(user_id);
  if (p == nullptr || p->revoked()) {
    return Status::Forbidden("principal '" + user_id + "' was revoked; ask an admin for a new credential");
  }
  if (Allows(p->role, spec.permission)) return Status::Ok();
  return Status::Forbidden("principal '" + p->name + "' (role " + std::string(RoleName(p->role)) +
                           ") may not send " + std::string(spec.name) + ": it needs the " +
                           std::string(wire::PermissionName(spec.permission)) + " permission");
}

}  // namespace titan::security
