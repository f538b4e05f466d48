// ServerSecurity: mode choice, CURVE server options, the keys-folder watch and role checks.
#include "security/server_security.h"

#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

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
  s->file_ = std::move(*principals);
  s->principals_ = s->file_;
  s->LoadJobPrincipals();
  s->AddJobPrincipals();
  s->zap_ = std::make_unique<ZapHandler>(ctx);
  s->watch_.Reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!s->watch_.valid() ||
      inotify_add_watch(s->watch_.get(), options.keys_dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO) < 0) {
    return Status::Error(node + ": cannot watch the keys folder '" + options.keys_dir + "' for revocations");
  }
  spdlog::info("{}: CURVE on; {} principals in {}", node, s->principals_.all().size(), s->keys_.principals());
  return s;
}

ServerSecurity::~ServerSecurity() = default;

void ServerSecurity::Secure(zmq::socket_t& server, std::string_view domain) const {
  if (!curve()) return;
  server.set(zmq::sockopt::curve_server, 1);
  server.set(zmq::sockopt::curve_secretkey, server_.secret_key);
  server.set(zmq::sockopt::zap_domain, std::string(domain));
}

size_t ServerSecurity::AddPollItems(zmq::pollitem_t* items) {
  if (!curve()) return 0;
  items[0] = zap_->PollItem();
  items[1] = {nullptr, watch_.get(), ZMQ_POLLIN, 0};
  return 2;
}

ServerSecurity::KeyChanges ServerSecurity::OnPoll(const zmq::pollitem_t* items) {
  KeyChanges out;
  if (!curve()) return out;
  if (items[1].revents & ZMQ_POLLIN) {
    // Reload for a new principals file, or another process's jobs file; not for this process's own
    // jobs file or the temporary files the writers rename into place.
    bool changed = false;
    alignas(inotify_event) char buf[4096];
    for (ssize_t n; (n = ::read(watch_.get(), buf, sizeof buf)) > 0;) {
      for (ssize_t at = 0; at < n;) {
        const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
        const std::string name = e->len ? e->name : "";
        changed = changed || name == "principals.yaml" || (name == "jobs.yaml" && !jobs_ours_);
        at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
      }
    }
    if (changed) out.changes = Reload();
    if (!out.changes.empty()) out.by = FileOwner(keys_.principals());
  }
  if (items[0].revents & ZMQ_POLLIN) zap_->Serve(principals_);
  return out;
}

std::vector<PrincipalChange> ServerSecurity::Reload() {
  Result<Principals> now = Principals::Load(keys_.principals());
  if (!now.ok()) {
    spdlog::error("keeping the principals loaded before: {}", now.message());
    return {};
  }
  std::vector<PrincipalChange> changes = DiffPrincipals(file_, *now);
  file_ = std::move(*now);
  principals_ = file_;
  if (!jobs_ours_) {  // another node's jobs file (the store reads the broker's); ours is in memory
    LoadJobPrincipals();
  }
  AddJobPrincipals();
  return changes;
}

void ServerSecurity::LoadJobPrincipals() {
  Result<Principals> jobs = Principals::Load(keys_.jobs());
  if (!jobs.ok()) {
    spdlog::error("keeping the job principals loaded before: {}", jobs.message());
    return;
  }
  jobs_ = std::move(*jobs);
}

void ServerSecurity::AddJobPrincipals() {
  for (const Principal& p : jobs_.all()) {
    if (p.name.rfind("job-", 0) == 0) (void)principals_.Add(p);  // never one of the file's names
  }
}

std::optional<wire::JobCredential> ServerSecurity::MintJobCredential(const std::string& job_id) {
  if (!curve()) return std::nullopt;
  Result<Keypair> k = NewKeypair();
  if (!k.ok()) {
    spdlog::error("no credential for job {}: {}", job_id, k.message());
    return std::nullopt;
  }
  const std::string name = JobPrincipalName(job_id);
  DropJobCredential(job_id);
  const Principal p{name, k->public_key, Role::kSubmitter, 0, 0};
  (void)jobs_.Add(p);
  (void)principals_.Add(p);
  jobs_dirty_ = true;
  jobs_ours_ = true;
  return wire::JobCredential{name, k->public_key, k->secret_key, server_.public_key};
}

void ServerSecurity::DropJobCredential(const std::string& job_id) {
  if (!curve()) return;
  const std::string name = JobPrincipalName(job_id);
  if (jobs_.FindName(name) == nullptr) return;
  jobs_.Remove(name);
  principals_.Remove(name);
  jobs_dirty_ = true;
}

void ServerSecurity::SaveJobCredentials() {
  if (!jobs_dirty_) return;
  if (Status s = jobs_.Save(keys_.jobs(), /*durable=*/false); !s.ok()) {
    spdlog::error("cannot write the job principals file: {}", s.message());
    return;
  }
  jobs_dirty_ = false;
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
