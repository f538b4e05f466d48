// The keys folder: files written 0600 through credential.h's WriteSecretFile.
#include "security/key_files.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>

namespace titan::security {

bool HasServerKey(const KeyFiles& keys) {
  std::error_code ec;
  return std::filesystem::exists(keys.server(), ec);
}

namespace {

// A keypair file (server.yaml, server.previous.yaml); `missing` is the error's advice when it cannot be read.
Result<Keypair> ReadKeypair(const std::string& path, const std::string& missing) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::NotFound("cannot read the server key '" + path + "': " + e.what() + " (" + missing + ")");
  }
  Keypair k{doc["public_key"] ? doc["public_key"].as<std::string>("") : "",
            doc["secret_key"] ? doc["secret_key"].as<std::string>("") : ""};
  Result<std::string> derived = PublicKeyOf(k.secret_key);
  if (!derived.ok() || *derived != k.public_key) {
    return Status::Invalid("server key '" + path + "' is damaged: its public key does not match its secret");
  }
  return k;
}

Status WriteKeypair(const std::string& path, const Keypair& k, const char* comment) {
  YAML::Emitter out;
  out << YAML::Comment(comment) << YAML::BeginMap;
  out << YAML::Key << "public_key" << YAML::Value << YAML::DoubleQuoted << k.public_key;
  out << YAML::Key << "secret_key" << YAML::Value << YAML::DoubleQuoted << k.secret_key << YAML::EndMap;
  return WriteSecretFile(path, std::string(out.c_str()) + "\n");
}

constexpr const char* kServerComment =
    "This Titan cluster's CURVE keypair: the secret never leaves this file.";
constexpr const char* kPreviousComment =
    "The keypair `titan keys rotate` replaced: `titan keys rotate --rollback` puts it back in use.";

// The credential files of the folder (*.cred, regular files, not links), by name.
std::vector<std::string> CredentialFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".cred" && entry.is_regular_file(ec) && !entry.is_symlink(ec)) {
      out.push_back(entry.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Gives every credential file of the folder `server_key`; fills rewritten, skipped and unreached.
Status RewriteCredentials(const KeyFiles& keys, const std::string& server_key, Rotation* r) {
  std::set<std::string> reached;
  for (const std::string& path : CredentialFiles(keys.dir)) {
    Result<Credential> c = ReadCredential(path);
    if (!c.ok()) {
      r->skipped.push_back(path + ": " + c.message());
      continue;
    }
    c->server_key = server_key;
    if (Status s = WriteCredential(path, *c); !s.ok()) return s;
    r->rewritten.push_back(path);
    reached.insert(c->public_key);
  }
  Result<Principals> all = Principals::Load(keys.principals());
  if (!all.ok()) return all.status();
  for (const Principal& p : all->all()) {
    if (!p.revoked() && reached.count(p.public_key) == 0) r->unreached.push_back(p);
  }
  return Status::Ok();
}

}  // namespace

Result<Keypair> ReadServerKey(const KeyFiles& keys) {
  return ReadKeypair(keys.server(), "make one with `titan keys init`");
}

Result<bool> InitKeys(const KeyFiles& keys, int64_t now_ms) {
  if (HasServerKey(keys)) return false;
  std::error_code ec;
  std::filesystem::create_directories(keys.dir, ec);
  if (ec) return Status::Error("cannot create the keys folder '" + keys.dir + "': " + ec.message());
  ::chmod(keys.dir.c_str(), 0700);
  Result<Keypair> server = NewKeypair();
  if (!server.ok()) return server.status();
  // The principals first: a half-made folder (no server key) is made again from the start.
  Principals none;
  if (Status s = none.Save(keys.principals()); !s.ok()) return s;
  if (Status s = WriteKeypair(keys.server(), *server, kServerComment); !s.ok()) return s;
  Result<Credential> admin = AddPrincipal(keys, "admin", Role::kAdmin, now_ms);
  if (!admin.ok()) return admin.status();
  if (Status s = WriteCredential(keys.admin_credential(), *admin); !s.ok()) return s;
  return true;
}

Result<Credential> AddPrincipal(const KeyFiles& keys, const std::string& name, Role role, int64_t now_ms) {
  Result<Keypair> server = ReadServerKey(keys);
  if (!server.ok()) return server.status();
  Result<Principals> all = Principals::Load(keys.principals());
  if (!all.ok()) return all.status();
  Result<Keypair> mine = NewKeypair();
  if (!mine.ok()) return mine.status();
  if (Status s = all->Add(Principal{name, mine->public_key, role, now_ms, 0}); !s.ok()) return s;
  if (Status s = all->Save(keys.principals()); !s.ok()) return s;
  return Credential{name, std::string(RoleName(role)), mine->public_key, mine->secret_key,
                    server->public_key};
}

Status RevokePrincipal(const KeyFiles& keys, const std::string& name, int64_t now_ms) {
  Result<Principals> all = Principals::Load(keys.principals());
  if (!all.ok()) return all.status();
  if (Status s = all->Revoke(name, now_ms); !s.ok()) return s;
  return all->Save(keys.principals());
}

Result<Credential> ReissuePrincipal(const KeyFiles& keys, const std::string& name) {
  Result<Keypair> server = ReadServerKey(keys);
  if (!server.ok()) return server.status();
  Result<Principals> all = Principals::Load(keys.principals());
  if (!all.ok()) return all.status();
  const Principal* p = all->FindName(name);
  if (p == nullptr) return Status::NotFound("no principal named '" + name + "' (see `titan keys list`)");
  const Role role = p->role;
  Result<Keypair> mine = NewKeypair();
  if (!mine.ok()) return mine.status();
  if (Status s = all->Rekey(name, mine->public_key); !s.ok()) return s;
  if (Status s = all->Save(keys.principals()); !s.ok()) return s;
  return Credential{name, std::string(RoleName(role)), mine->public_key, mine->secret_key,
                    server->public_key};
}

Result<Rotation> RotateServerKey(const KeyFiles& keys, bool rollback) {
  Result<Keypair> current = ReadServerKey(keys);
  if (!current.ok()) return current.status();
  Result<Keypair> next = rollback ? ReadKeypair(keys.previous_server(),
                                                "no rotation to roll back: `titan keys rotate` keeps one")
                                  : NewKeypair();
  if (!next.ok()) return next.status();
  if (next->public_key == current->public_key) {
    return Status::Invalid("'" + keys.previous_server() +
                           "' holds the key in use already: there is nothing to roll back to");
  }
  Rotation r{next->public_key, current->public_key, {}, {}, {}};
  if (!rollback) {
    if (Status s = WriteKeypair(keys.previous_server(), *current, kPreviousComment); !s.ok()) return s;
  }
  if (Status s = RewriteCredentials(keys, next->public_key, &r); !s.ok()) return s;
  if (Status s = WriteKeypair(keys.server(), *next, kServerComment); !s.ok()) return s;
  if (rollback) {
    if (Status s = WriteKeypair(keys.previous_server(), *current, kPreviousComment); !s.ok()) return s;
  }
  return r;
}

}  // namespace titan::security
