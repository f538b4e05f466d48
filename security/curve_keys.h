// CURVE keys as Z85 text (40 characters for 32 bytes), the form ZeroMQ's socket options take.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace titan::security {

struct Keypair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters
};

// A fresh keypair from libsodium's generator (through zmq_curve_keypair).
Result<Keypair> NewKeypair();

// True when `key` is 40 characters of Z85 that decode to 32 bytes.
bool IsKey(std::string_view key);

// The Z85 text of a raw 32-byte key (the CURVE credentials frame of a ZAP request).
std::string KeyText(std::string_view raw32);

// The public key that belongs to `secret_key`; an error when it is not a key.
Result<std::string> PublicKeyOf(const std::string& secret_key);

}  // namespace titan::security
