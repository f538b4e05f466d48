// SecretBox: libsodium crypto_secretbox with a key file (secret_box.h).
#include "security/secret_box.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/unique_fd.h"
#include "security/credential.h"

namespace titan::security {
namespace {

constexpr std::string_view kMagic = "TSB1";

// The folder of `path` fsynced, so a file just renamed into it survives a crash.
Status SyncFolder(const std::string& path) {
  const std::string folder = std::filesystem::path(path).parent_path().string();
  exec::UniqueFd fd(::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0)
    return ErrnoStatus("cannot fsync folder '" + folder + "'", errno);
  return Status::Ok();
}

Result<SecretBox> Malformed(const std::string& path, const std::string& what) {
  return Status::Invalid("the secrets key file '" + path + "' " + what +
                         "; restore it from a backup (the secrets sealed with it cannot be read without it)");
}

}  // namespace

Result<SecretBox> SecretBox::Load(const std::string& path, bool create) {
  if (sodium_init() < 0) return Status::Error("libsodium failed to initialise");
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) return Status::NotFound("no secrets key file '" + path + "'");
    std::string key(crypto_secretbox_KEYBYTES, '\0');
    randombytes_buf(key.data(), key.size());
    std::string hex(key.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(key.data()), key.size());
    hex.pop_back();
    if (Status s = WriteSecretFile(path, hex + "\n", /*durable=*/true); !s.ok()) return s;
    if (Status s = SyncFolder(path); !s.ok()) return s;
    return SecretBox(std::move(key));
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return ErrnoStatus("cannot read the secrets key file '" + path + "'", errno);
  std::string hex = text.str();
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' ')) hex.pop_back();
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  size_t len = 0;
  if (hex.size() != key.size() * 2 ||
      sodium_hex2bin(reinterpret_cast<unsigned char*>(key.data()), key.size(), hex.data(), hex.size(),
                     nullptr, &len, nullptr) != 0 ||
      len != key.size()) {
    return Malformed(path, "does not hold a key (64 hex digits)");
  }
  return SecretBox(std::move(key));
}

SecretBox SecretBox::FromKey(std::string_view key) {
  if (sodium_init() < 0) std::abort();  // no randomness: nothing could be sealed safely
  return SecretBox(std::string(key));
}

bool SecretBox::IsSealed(std::string_view blob) { return blob.substr(0, kMagic.size()) == kMagic; }

std::string SecretBox::Seal(std::string_view plain) const {
  std::string out(kMagic.size() + crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(),
                  '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data() + kMagic.size());
  out.replace(0, kMagic.size(), kMagic);
  randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
  crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                        reinterpret_cast<const unsigned char*>(plain.data()), plain.size(), nonce,
                        reinterpret_cast<const unsigned char*>(key_.data()));
  return out;
}

Result<std::string> SecretBox::Open(std::string_view sealed) const {
  const size_t head = kMagic.size() + crypto_secretbox_NONCEBYTES;
  if (!IsSealed(sealed) || sealed.size() < head + crypto_secretbox_MACBYTES)
    return Status::Invalid("is not a sealed secret (too short or no TSB1 mark)");
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + kMagic.size());
  std::string plain(sealed.size() - head - crypto_secretbox_MACBYTES, '\0');
  if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 nonce + crypto_secretbox_NONCEBYTES, sealed.size() - head, nonce,
                                 reinterpret_cast<const unsigned char*>(key_.data())) != 0)
    return Status::Invalid(
        "has a sealed secret that this secrets key does not open (another key, or damaged)");
  return plain;
}

}  // namespace titan::security
