// Credential files with yaml-cpp; written 0600 through a temporary file so a reader never sees half.
#include "security/credential.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>

#include "base/unique_fd.h"
#include "security/curve_keys.h"

namespace titan::security {
namespace {

Status Errno(const std::string& what, int err) { return Status::Error(what + ": " + std::strerror(err)); }

// The key `name` of `doc`, checked to be a CURVE key.
Result<std::string> KeyField(const YAML::Node& doc, const char* name, const std::string& path) {
  const std::string key = doc[name] ? doc[name].as<std::string>("") : "";
  if (!IsKey(key)) {
    return Status::Invalid("credential file '" + path + "': '" + name +
                           "' is missing or not a CURVE key (40 characters of Z85); make a new one with "
                           "`titan keys add NAME --role ROLE`");
  }
  return key;
}

}  // namespace

Result<Credential> ReadCredential(const std::string& path) {
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::NotFound("cannot read credential file '" + path + "': " + std::strerror(errno));
  } catch (const YAML::Exception& e) {
    return Status::Invalid("credential file '" + path + "' is not YAML: " + e.what());
  }
  if (!doc.IsMap()) return Status::Invalid("credential file '" + path + "' is not a YAML map");
  Credential c;
  c.path = path;
  c.principal = doc["principal"] ? doc["principal"].as<std::string>("") : "";
  c.role = doc["role"] ? doc["role"].as<std::string>("") : "";
  if (c.principal.empty()) return Status::Invalid("credential file '" + path + "' names no principal");
  for (auto [field, name] : {std::pair{&c.public_key, "public_key"}, std::pair{&c.secret_key, "secret_key"},
                             std::pair{&c.server_key, "server_key"}}) {
    Result<std::string> key = KeyField(doc, name, path);
    if (!key.ok()) return key.status();
    *field = *key;
  }
  Result<std::string> derived = PublicKeyOf(c.secret_key);
  if (!derived.ok() || *derived != c.public_key) {
    return Status::Invalid("credential file '" + path + "': public_key does not belong to secret_key");
  }
  return c;
}

Status WriteSecretFile(const std::string& path, const std::string& text, bool durable) {
  const std::string tmp = path + ".tmp";
  exec::UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return Errno("cannot write '" + tmp + "'", errno);
  if (::fchmod(fd.get(), 0600) != 0) return Errno("cannot chmod '" + tmp + "'", errno);
  if (Status s = WriteAll(fd.get(), text, "'" + tmp + "'"); !s.ok()) return s;
  if (durable && ::fsync(fd.get()) != 0) return Errno("cannot fsync '" + tmp + "'", errno);
  if (fd.Close() != 0) return Errno("cannot close '" + tmp + "'", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("cannot rename '" + tmp + "'", errno);
  return Status::Ok();
}

Status WriteCredential(const std::string& path, const Credential& c, bool durable) {
  YAML::Emitter out;
  out << YAML::Comment(
             "A Titan credential: keep it secret (mode 0600). `titan keys list` shows who holds one.")
      << YAML::BeginMap;
  out << YAML::Key << "principal" << YAML::Value << c.principal;
  out << YAML::Key << "role" << YAML::Value << c.role;
  for (auto [name, key] : {std::pair{"public_key", &c.public_key}, std::pair{"secret_key", &c.secret_key},
                           std::pair{"server_key", &c.server_key}}) {
    out << YAML::Key << name << YAML::Value << YAML::DoubleQuoted << *key;
  }
  out << YAML::EndMap;
  return WriteSecretFile(path, std::string(out.c_str()) + "\n", durable);
}

}  // namespace titan::security
