// The benchmark's keys, through security/key_files.h (as `titan keys` makes them).
#include "tests/bench/bench_curve.h"

#include <chrono>
#include <cstdio>
#include <optional>

#include "security/client_security.h"
#include "security/key_files.h"

namespace titan::bench {
namespace {

struct Keys {
  security::KeyFiles files;
  security::Credential admin;
  std::string worker_credential;
};
std::optional<Keys>& State() {
  static std::optional<Keys> keys;
  return keys;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

bool EnableCurve(const std::string& dir) {
  const security::KeyFiles files{dir + "/keys"};
  Result<bool> made = security::InitKeys(files, NowMs());
  Result<security::Credential> admin = made.ok() ? security::ReadCredential(files.admin_credential())
                                                 : Result<security::Credential>(made.status());
  Result<security::Credential> worker =
      admin.ok() ? security::AddPrincipal(files, "bench-workers", security::Role::kWorker, NowMs())
                 : admin.status();
  const std::string worker_path = dir + "/worker.cred";
  Status written = worker.ok() ? security::WriteCredential(worker_path, *worker) : worker.status();
  if (!written.ok()) {
    std::fprintf(stderr, "bench: cannot make CURVE keys in %s: %s\n", dir.c_str(), written.message().c_str());
    return false;
  }
  State() = Keys{files, *admin, worker_path};
  return true;
}

bool CurveOn() { return State().has_value(); }

void SecureBenchClient(zmq::socket_t& s) {
  if (State()) security::SecureClient(s, State()->admin);
}

std::vector<std::string> NodeKeyArgs() {
  if (!State()) return {};
  return {"--keys", State()->files.dir};
}

std::vector<std::string> WorkerCredentialArgs() {
  if (!State()) return {};
  return {"--credentials", State()->worker_credential};
}

}  // namespace titan::bench
