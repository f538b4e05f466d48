// `titan keys init|add|list|revoke`: the cluster's keys folder (security/key_files.h), on the machine
// that holds it. Nodes reload the principals file when it changes, so add and revoke apply at once.
#include <iostream>

#include "base/clock.h"
#include "cli/commands.h"
#include "security/key_files.h"

namespace titan::cli {
namespace {

struct KeysArgs {
  std::string dir = "titan-data";  // the data directory; keys live in <dir>/keys
  std::string keys;                // --keys: the keys folder itself
  std::string name, role = "submitter", out;
  security::KeyFiles files() const { return {keys.empty() ? dir + "/keys" : keys}; }
};

void AddWhere(CLI::App* cmd, KeysArgs* a) {
  cmd->add_option("--dir", a->dir, "data directory whose keys folder to use (<dir>/keys)")
      ->capture_default_str();
  cmd->add_option("--keys", a->keys, "the keys folder itself (instead of <dir>/keys)");
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
  const std::string out = a.out.empty() ? a.name + ".cred" : a.out;
  if (Status s = security::WriteCredential(out, *c); !s.ok()) {
    std::cerr << "titan keys add: principal '" << a.name
              << "' was added but its credential was not written: " << s.message()
              << "; revoke it and add it again\n";
    return kExitIo;
  }
  std::cout << "added " << a.name << " (" << a.role << "); credential: " << out
            << "\nGive it to its holder: --credentials " << out << " or TITAN_CREDENTIALS=" << out << "\n";
  return kExitOk;
}

int List(const KeysArgs& a) {
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

int Revoke(const KeysArgs& a) {
  if (Status s = security::RevokePrincipal(a.files(), a.name, WallMs()); !s.ok()) {
    std::cerr << "titan keys revoke: " << s.message() << "\n";
    return s.code() == Status::Code::kNotFound ? kExitNotFound : kExitUsage;
  }
  std::cout << "revoked " << a.name << ": refused from now on, by every node that uses " << a.files().dir
            << "\n";
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
}

}  // namespace titan::cli
