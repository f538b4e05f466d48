// `titan keys init|add|list|revoke|reissue|rotate`: the cluster's keys folder (security/key_files.h), on
// the machine that holds it. Nodes watch the folder, so each change applies at once: a revoked key is
// refused and its connections closed, a rotated server key is put in use (docs/security.md).
#include <filesystem>
#include <iostream>
#include <string_view>

#include "base/clock.h"
#include "cli/commands.h"
#include "security/key_files.h"

namespace titan::cli {
namespace {

struct KeysArgs {
  std::string dir = "titan-data";  // the data directory; keys live in <dir>/keys
  std::string keys;                // --keys: the keys folder itself
  std::string name, role = "submitter", out;
  bool rollback = false;
  security::KeyFiles files() const { return {keys.empty() ? dir + "/keys" : keys}; }
};

void AddWhere(CLI::App* cmd, KeysArgs* a) {
  cmd->add_option("--dir", a->dir, "data directory whose keys folder to use (<dir>/keys)")
      ->capture_default_str();
  cmd->add_option("--keys", a->keys, "the keys folder itself (instead of <dir>/keys)");
}

// False, with why printed, when there is no keys folder where `a` points (nothing `titan keys init` made):
// an empty list there would read as "no principals".
bool HaveKeys(const KeysArgs& a, std::string_view command) {
  const security::KeyFiles keys = a.files();
  std::error_code ec;
  if (std::filesystem::exists(keys.server(), ec)) return true;
  std::cerr << "titan keys " << command << ": no keys folder at " << keys.dir << " (no " << keys.server()
            << "); pass --keys DIR (or --dir DATA_DIR) for the cluster's keys, or run `titan keys init`\n";
  return false;
}

int Init(const KeysArgs& a) {
  const security::KeyFiles keys = a.files();
  Result<bool> made = security::InitKeys(keys, WallMs());
  if (!made.ok()) {
    std::cerr << "titan keys init: " << made.message() << "\n";
    return kExitIo;
  }
  std::cout << (*made ? "made " : "already there: ") << keys.server() << "\n"
            << "admin credential: " << keys.admin_credential() << "\n";
  return kExitOk;
}

// Writes a credential made for `a.name` to --out (default ./NAME.cred) and says what to do with it.
int WriteIssued(const KeysArgs& a, const security::Credential& c, std::string_view command) {
  const std::string out = a.out.empty() ? a.name + ".cred" : a.out;
  if (Status s = security::WriteCredential(out, c); !s.ok()) {
    std::cerr << "titan keys " << command << ": principal '" << a.name
              << "' has a new key but its credential was not written: " << s.message()
              << "; run `titan keys reissue " << a.name << " --out FILE`\n";
    return kExitIo;
  }
  std::cout << (command == "add" ? "added " : "reissued ") << a.name << " (" << c.role
            << "); credential: " << out << "\nGive it to its holder: --credentials " << out
            << " or TITAN_CREDENTIALS=" << out << "\n";
  return kExitOk;
}

int Add(const KeysArgs& a) {
  const std::optional<security::Role> role = security::RoleNamed(a.role);
  if (!role) {
    std::cerr << "titan keys add: role '" << a.role << "' is not one of " << security::RoleNames() << "\n";
    return kExitUsage;
  }
  Result<security::Credential> c = security::AddPrincipal(a.files(), a.name, *role, WallMs());
  if (!c.ok()) {
    std::cerr << "titan keys add: " << c.message() << "\n";
    return c.status().code() == Status::Code::kInvalid ? kExitUsage : kExitIo;
  }
  return WriteIssued(a, *c, "add");
}

int List(const KeysArgs& a) {
  if (!HaveKeys(a, "list")) return kExitNotFound;
  Result<security::Principals> all = security::Principals::Load(a.files().principals());
  if (!all.ok()) {
    std::cerr << "titan keys list: " << all.message() << "\n";
    return kExitIo;
  }
  std::printf("%-24s %-10s %-12s %s\n", "NAME", "ROLE", "KEY", "STATE");
  for (const security::Principal& p : all->all()) {
    std::printf("%-24s %-10s %-12s %s\n", p.name.c_str(), std::string(security::RoleName(p.role)).c_str(),
                (p.public_key.substr(0, 8) + "...").c_str(), p.revoked() ? "revoked" : "active");
  }
  return kExitOk;
}

int Reissue(const KeysArgs& a) {
  if (!HaveKeys(a, "reissue")) return kExitNotFound;
  Result<security::Credential> c = security::ReissuePrincipal(a.files(), a.name);
  if (!c.ok()) {
    std::cerr << "titan keys reissue: " << c.message() << "\n";
    return c.status().code() == Status::Code::kNotFound ? kExitNotFound : kExitUsage;
  }
  return WriteIssued(a, *c, "reissue");
}

int Rotate(const KeysArgs& a) {
  const security::KeyFiles keys = a.files();
  Result<security::Rotation> r = security::RotateServerKey(keys, a.rollback);
  if (!r.ok()) {
    std::cerr << "titan keys rotate: " << r.message() << "\n";
    return r.status().code() == Status::Code::kInvalid ? kExitUsage : kExitIo;
  }
  std::cout << "server key now " << r->public_key << " in " << keys.server() << "\nthe previous one ("
            << r->previous_key.substr(0, 8) << "...) is kept in " << keys.previous_server()
            << (a.rollback ? "" : ": `titan keys rotate --rollback` puts it back") << "\n";
  for (const std::string& path : r->rewritten) std::cout << "new server key written into " << path << "\n";
  for (const std::string& why : r->skipped) std::cout << "not a credential, left as it is: " << why << "\n";
  std::cout << "Nodes that use " << keys.dir << " switch now: every connection is closed, and clients and "
            << "workers whose credential file is here reconnect with the new key; jobs keep running.\n"
            << "A node that reads a copy of this folder on another machine switches when the new server.yaml "
            << "is copied there.\n";
  if (!r->unreached.empty()) {
    std::cout << "Credentials given out still name the old key and are refused until re-issued:";
    for (const security::Principal& p : r->unreached) {
      std::cout << " " << p.name << " (" << security::RoleName(p.role) << ")";
    }
    std::cout << "\nRe-issue each with `titan keys reissue NAME --out FILE` and hand it over (a holder that "
              << "writes it over the file it uses reconnects without a restart).\n";
  }
  return kExitOk;
}

int Revoke(const KeysArgs& a) {
  if (!HaveKeys(a, "revoke")) return kExitNotFound;
  if (Status s = security::RevokePrincipal(a.files(), a.name, WallMs()); !s.ok()) {
    std::cerr << "titan keys revoke: " << s.message() << "\n";
    return s.code() == Status::Code::kNotFound ? kExitNotFound : kExitUsage;
  }
  std::cout << "revoked " << a.name << ": refused from now on, and its open connections closed, by every "
            << "node that uses " << a.files().dir << "\n";
  return kExitOk;
}

}  // namespace

void AddKeysCommand(CLI::App& app, int* exit_code) {
  auto a = std::make_shared<KeysArgs>();
  CLI::App* keys =
      app.add_subcommand("keys", "Manage who may connect: the server key, principals and credentials");
  keys->require_subcommand(1);
  CLI::App* init = keys->add_subcommand("init", "Make the server keypair and an admin credential (once)");
  AddWhere(init, a.get());
  init->callback([a, exit_code] { *exit_code = Init(*a); });
  CLI::App* add = keys->add_subcommand("add", "Add a principal and write its credential file");
  add->add_option("NAME", a->name, "the principal's name (letters, digits, . _ @ -)")->required();
  add->add_option("--role", a->role, "admin, operator, submitter, reader or worker")->capture_default_str();
  add->add_option("--out", a->out, "where to write the credential (default: ./NAME.cred)");
  AddWhere(add, a.get());
  add->callback([a, exit_code] { *exit_code = Add(*a); });
  CLI::App* list = keys->add_subcommand("list", "List the principals: name, role, key, state");
  AddWhere(list, a.get());
  list->callback([a, exit_code] { *exit_code = List(*a); });
  CLI::App* revoke = keys->add_subcommand("revoke", "Revoke a principal: its key is refused from now on");
  revoke->add_option("NAME", a->name, "the principal")->required();
  AddWhere(revoke, a.get());
  revoke->callback([a, exit_code] { *exit_code = Revoke(*a); });
  CLI::App* reissue = keys->add_subcommand(
      "reissue", "Give a principal a new key and credential file; its old key is refused");
  reissue->add_option("NAME", a->name, "the principal")->required();
  reissue->add_option("--out", a->out, "where to write the credential (default: ./NAME.cred)");
  AddWhere(reissue, a.get());
  reissue->callback([a, exit_code] { *exit_code = Reissue(*a); });
  CLI::App* rotate = keys->add_subcommand(
      "rotate", "Replace the server key; running nodes switch at once, jobs keep running");
  rotate->add_flag("--rollback", a->rollback, "put the previous server key back in use");
  AddWhere(rotate, a.get());
  rotate->callback([a, exit_code] { *exit_code = Rotate(*a); });
}

}  // namespace titan::cli
