// titan up's keys: security/key_files.h does the work; this file decides which files titan up uses.
#include "cli/up_keys.h"

#include <filesystem>
#include <iostream>

#include "base/clock.h"
#include "security/client_security.h"
#include "security/key_files.h"

namespace titan::cli {
namespace fs = std::filesystem;

Result<UpKeys> PrepareUpKeys(const std::string& data_dir) {
  const security::KeyFiles files{fs::absolute(fs::path(data_dir) / "keys").lexically_normal().string()};
  if (Result<bool> made = security::InitKeys(files, WallMs()); !made.ok()) return made.status();
  UpKeys keys{files.dir, files.admin_credential(), files.dir + "/workers.cred"};
  std::error_code ec;
  if (!fs::exists(keys.worker_credential, ec)) {
    Result<security::Credential> workers =
        security::AddPrincipal(files, "workers", security::Role::kWorker, WallMs());
    if (!workers.ok()) {
      return Status::Invalid("cannot make the workers' credential " + keys.worker_credential + ": " +
                             workers.message() +
                             " (remove the principal with `titan keys revoke` or use a new --dir)");
    }
    if (Status s = security::WriteCredential(keys.worker_credential, *workers); !s.ok()) return s;
  }
  return keys;
}

std::string LinkCredential(const UpKeys& keys, const std::string& host, int port) {
  const fs::path link = security::ClusterLink(host, port);
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  fs::remove(link, ec);
  fs::create_symlink(keys.admin_credential, link, ec);
  if (ec) {
    std::cerr << "titan: cannot link " << link.string() << " to the admin credential (" << ec.message()
              << "); clients need --credentials " << keys.admin_credential << "\n";
    return "";
  }
  return link.string();
}

}  // namespace titan::cli
