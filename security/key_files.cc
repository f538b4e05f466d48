// The keys folder: files written 0600 through credential.h's WriteSecretFile.
#include "security/key_files.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

namespace titan::security {

bool HasServerKey(const KeyFiles& keys) {
  std::error_code ec;
  return std::filesystem::exists(keys.server(), ec);
}

Result<Keypair> ReadServerKey(const KeyFiles& keys) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(keys.server());
  } catch (const YAML::Exception& e) {
    return Status::NotFound("cannot read the server key '" + keys.server() + "': " + e.what() +
                            " (make one with `titan keys init`)");
  }
  Keypair k{doc["public_key"] ? doc["public_key"].as<std::string>("") : "",
            doc["secret_key"] ? doc["secret_key"].as<std::string>("") : ""};
  Result<std::string> derived = PublicKeyOf(k.secret_key);
  if (!derived.ok() || *derived != k.public_key) {
    return Status::Invalid("server key '" + keys.server() +
                           "' is damaged: its public key does not match its secret");
  }
  return k;
}

Result<bool> InitKeys(const KeyFiles& keys, int64_t now_ms) {
  if (HasServerKey(keys)) return false;
  std::error_code ec;
  std::filesystem::create_directories(keys.dir, ec);
  if (ec) return Status::Error("cannot create the keys folder '" + keys.dir + "': " + ec.message());
  ::chmod(keys.dir.c_str(), 0700);
  Result<Keypair> server = NewKeypair();
  if (!server.ok()) return server.status();
  YAML::Emitter out;
  out << YAML::Comment("This Titan cluster's CURVE keypair: the secret never leaves this file.")
      << YAML::BeginMap;
  out << YAML::Key << "public_key" << YAML::Value << YAML::DoubleQuoted << server->public_key;
  out << YAML::Key << "secret_key" << YAML::Value << YAML::DoubleQuoted << server->secret_key << YAML::EndMap;
  // The principals first: a half-made folder (no server key) is made again from the start.
  Principals none;
  if (Status s = none.Save(keys.principals()); !s.ok()) return s;
  if (Status s = WriteSecretFile(keys.server(), std::string(out.c_str()) + "\n"); !s.ok()) return s;
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

}  // namespace titan::security
