// A client credential file: who a client is to one Titan cluster. YAML, mode 0600:
//   principal: alice
//   role: submitter            # informational: the cluster's principals file decides
//   public_key: "<Z85>"
//   secret_key: "<Z85>"
//   server_key: "<Z85>"        # the cluster's public key, to authenticate the server
// The Python SDK reads the same file (sdk/python/titan_sdk/credentials.py).
#pragma once

#include <string>

#include "base/status.h"

namespace titan::security {

struct Credential {
  std::string principal;
  std::string role;
  std::string public_key;
  std::string secret_key;
  std::string server_key;
  std::string path;  // the file it was read from (not written: for messages and child processes)
};

// Reads and checks a credential file; the error names the file and what is wrong with it.
Result<Credential> ReadCredential(const std::string& path);
// Writes `c` to `path` with mode 0600 (through a temporary file renamed over it; fsynced unless not
// `durable`: a job's credential lives as long as its run).
Status WriteCredential(const std::string& path, const Credential& c, bool durable = true);

// Writes `text` to `path` with mode 0600, atomically (a temporary file renamed over it, fsynced unless
// not `durable`).
Status WriteSecretFile(const std::string& path, const std::string& text, bool durable = true);

}  // namespace titan::security
