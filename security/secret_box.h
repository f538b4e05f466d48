// SecretBox: authenticated symmetric encryption of what users hand Titan as secret (a job's
// secret_env) before it reaches a file. libsodium's crypto_secretbox (XSalsa20-Poly1305) with a
// random nonce per seal; the key is 32 random bytes in a file of its own (hex, mode 0600) beside the
// data it protects, so a copy of the database alone reveals nothing.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace titan::security {

class SecretBox {
 public:
  // Reads the key at `path`, or (create) makes one there when the file does not exist: written 0600,
  // fsynced, and its folder fsynced, so a seal made after this returns can always be opened again.
  // An unreadable or malformed key file is an error naming it (never replaced: that would make every
  // earlier seal unreadable).
  static Result<SecretBox> Load(const std::string& path, bool create);
  // A box with this 32-byte key (tests).
  static SecretBox FromKey(std::string_view key);

  // "TSB1" + nonce + ciphertext (with its authenticator). Never fails.
  std::string Seal(std::string_view plain) const;
  // The plaintext of a Seal by this key; an error when it is not one (other key, damaged, truncated).
  Result<std::string> Open(std::string_view sealed) const;
  // True when `blob` starts like a Seal (its first byte is never the first of a msgpack map or list).
  static bool IsSealed(std::string_view blob);

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;
};

}  // namespace titan::security
