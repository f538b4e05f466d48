// principals.yaml through yaml-cpp.
#include "security/principals.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "security/credential.h"
#include "security/curve_keys.h"

namespace titan::security {
namespace {

Result<Principal> PrincipalOf(const YAML::Node& n, const std::string& where) {
  Principal p;
  p.name = n["name"] ? n["name"].as<std::string>("") : "";
  p.public_key = n["public_key"] ? n["public_key"].as<std::string>("") : "";
  const std::string role = n["role"] ? n["role"].as<std::string>("") : "";
  if (!IsPrincipalName(p.name)) return Status::Invalid(where + ": 'name' is missing or not a plain word");
  if (!IsKey(p.public_key))
    return Status::Invalid(where + " (" + p.name + "): 'public_key' is not a CURVE key");
  const std::optional<Role> r = RoleNamed(role);
  if (!r) {
    return Status::Invalid(where + " (" + p.name + "): role '" + role + "' is not one of " +
                           std::string(RoleNames()));
  }
  p.role = *r;
  p.added_ms = n["added_ms"] ? n["added_ms"].as<int64_t>(0) : 0;
  p.revoked_ms = n["revoked_ms"] ? n["revoked_ms"].as<int64_t>(0) : 0;
  return p;
}

}  // namespace

bool IsPrincipalName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), IsPrincipalNameChar);
}

bool IsPrincipalNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '-';
}

Result<Principals> Principals::Load(const std::string& path) {
  Principals out;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return out;
  YAML::Node doc;
  try {
    doc = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    return Status::Invalid("principals file '" + path + "' cannot be read: " + e.what());
  }
  const YAML::Node list = doc["principals"];
  if (list && !list.IsSequence())
    return Status::Invalid("principals file '" + path + "': 'principals' is not a list");
  for (size_t i = 0; list && i < list.size(); ++i) {
    Result<Principal> p =
        PrincipalOf(list[i], "principals file '" + path + "' entry " + std::to_string(i + 1));
    if (!p.ok()) return p.status();
    if (Status s = out.Add(std::move(*p)); !s.ok())
      return Status::Invalid("principals file '" + path + "': " + s.message());
  }
  return out;
}

// Written by hand rather than with YAML::Emitter (the broker rewrites the job principals file on every
// turn that starts or ends a job): every value is safe as it stands. Names are checked plain words
// (IsPrincipalName), roles come from RoleName, and Z85 keys hold neither '"' nor '\\'.
Status Principals::Save(const std::string& path, bool durable) const {
  std::string out =
      "# Who may connect to this Titan cluster: name, CURVE public key, role. Written by `titan keys`;\n"
      "# every node reloads it when it changes. Public keys only: credentials hold the secrets.\n"
      "principals:\n";
  out.reserve(out.size() + all_.size() * 120);
  for (const Principal& p : all_) {
    out += "  - name: " + p.name + "\n    role: " + std::string(RoleName(p.role)) + "\n    public_key: \"" +
           p.public_key + "\"\n    added_ms: " + std::to_string(p.added_ms) + "\n";
    if (p.revoked()) out += "    revoked_ms: " + std::to_string(p.revoked_ms) + "\n";
  }
  if (all_.empty()) out = out.substr(0, out.size() - 1) + " []\n";
  return WriteSecretFile(path, out, durable);
}

void Principals::Remove(const std::string& name) {
  const auto it = by_name_.find(name);
  if (it == by_name_.end()) return;
  const size_t at = it->second;
  by_key_.erase(all_[at].public_key);
  by_name_.erase(it);
  if (at + 1 != all_.size()) {
    all_[at] = std::move(all_.back());
    by_name_[all_[at].name] = at;
    by_key_[all_[at].public_key] = at;
  }
  all_.pop_back();
}

const Principal* Principals::FindKey(const std::string& public_key) const {
  const auto it = by_key_.find(public_key);
  return it == by_key_.end() ? nullptr : &all_[it->second];
}

const Principal* Principals::FindName(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &all_[it->second];
}

Status Principals::Add(Principal p) {
  if (!IsPrincipalName(p.name)) {
    return Status::Invalid("principal name '" + p.name +
                           "' must be 1-64 characters of letters, digits, . _ @ -");
  }
  if (FindName(p.name))
    return Status::Invalid("principal '" + p.name + "' exists already; choose another name");
  if (FindKey(p.public_key)) return Status::Invalid("that public key belongs to another principal already");
  by_name_.emplace(p.name, all_.size());
  by_key_.emplace(p.public_key, all_.size());
  all_.push_back(std::move(p));
  return Status::Ok();
}

Status Principals::Revoke(const std::string& name, int64_t now_ms) {
  for (Principal& p : all_) {
    if (p.name != name) continue;
    if (p.revoked()) return Status::Invalid("principal '" + name + "' is revoked already");
    p.revoked_ms = now_ms;
    return Status::Ok();
  }
  return Status::NotFound("no principal named '" + name + "' (see `titan keys list`)");
}

Status Principals::Rekey(const std::string& name, const std::string& public_key) {
  const Principal* owner = FindKey(public_key);
  if (owner != nullptr && owner->name != name)
    return Status::Invalid("that public key belongs to another principal already");
  for (Principal& p : all_) {
    if (p.name != name) continue;
    if (p.revoked()) {
      return Status::Invalid(
          "principal '" + name +
          "' is revoked and stays so; add the holder under a new name with `titan keys add`");
    }
    by_key_.erase(p.public_key);
    p.public_key = public_key;
    by_key_[public_key] = by_name_[name];
    return Status::Ok();
  }
  return Status::NotFound("no principal named '" + name + "' (see `titan keys list`)");
}

std::vector<std::string> LostAccess(const Principals& before, const Principals& after) {
  std::vector<std::string> lost;
  for (const Principal& p : before.all()) {
    if (p.revoked()) continue;
    const Principal* now = after.FindKey(p.public_key);
    if (now == nullptr || now->revoked() || now->name != p.name) lost.push_back(p.name);
  }
  return lost;
}

std::vector<PrincipalChange> DiffPrincipals(const Principals& before, const Principals& after) {
  std::vector<PrincipalChange> out;
  auto with_role = [](const Principal& p) { return p.name + " role=" + std::string(RoleName(p.role)); };
  for (const Principal& p : after.all()) {
    const Principal* was = before.FindName(p.name);
    if (was == nullptr) {
      out.push_back({"KEY_ADD", with_role(p)});
    } else if (was->role != p.role || was->public_key != p.public_key) {
      out.push_back({"KEY_CHANGE", with_role(p)});
    }
    if (p.revoked() && (was == nullptr || !was->revoked())) out.push_back({"KEY_REVOKE", p.name});
  }
  for (const Principal& p : before.all()) {
    if (after.FindName(p.name) == nullptr) out.push_back({"KEY_REMOVE", p.name});
  }
  return out;
}

}  // namespace titan::security
