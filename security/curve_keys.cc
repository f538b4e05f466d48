// CURVE keys through libzmq's Z85 and keypair functions (libzmq is built with libsodium).
#include "security/curve_keys.h"

#include <zmq.h>

#include <array>

namespace titan::security {

Result<Keypair> NewKeypair() {
  std::array<char, 41> pub{}, sec{};
  if (zmq_curve_keypair(pub.data(), sec.data()) != 0) {
    return Status::Error(std::string("cannot make a CURVE keypair: ") + zmq_strerror(zmq_errno()) +
                         " (is libzmq built with libsodium?)");
  }
  return Keypair{std::string(pub.data(), 40), std::string(sec.data(), 40)};
}

bool IsKey(std::string_view key) {
  if (key.size() != 40) return false;
  std::array<uint8_t, 32> raw{};
  const std::string text(key);
  return zmq_z85_decode(raw.data(), text.c_str()) != nullptr;
}

std::string KeyText(std::string_view raw32) {
  if (raw32.size() != 32) return "";
  std::array<char, 41> out{};
  if (zmq_z85_encode(out.data(), reinterpret_cast<const uint8_t*>(raw32.data()), 32) == nullptr) return "";
  return std::string(out.data(), 40);
}

Result<std::string> PublicKeyOf(const std::string& secret_key) {
  if (!IsKey(secret_key)) return Status::Invalid("not a CURVE secret key (40 characters of Z85)");
  std::array<char, 41> pub{};
  if (zmq_curve_public(pub.data(), secret_key.c_str()) != 0) {
    return Status::Error(std::string("cannot derive a CURVE public key: ") + zmq_strerror(zmq_errno()));
  }
  return std::string(pub.data(), 40);
}

}  // namespace titan::security
