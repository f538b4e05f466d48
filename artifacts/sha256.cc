// SHA-256 through OpenSSL's EVP interface, file hashing over a raw fd, and CRC-32 through zlib.
#include "artifacts/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cassert>
#include <cstdlib>
#include <memory>
#include <utility>

#include "artifacts/file_io.h"
#include "base/unique_fd.h"

namespace titan::artifacts {
namespace {

std::string ToHex(const unsigned char* bytes, unsigned int len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
  if (this != &other) {
    EVP_MD_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

void Sha256::Update(std::string_view bytes) {
  assert(ctx_ != nullptr);
  if (!bytes.empty()) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
}

std::string Sha256::HexDigest() const {
  assert(ctx_ != nullptr);
  // Finish a copy, so this hasher can keep going.
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> copy(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (copy == nullptr || EVP_MD_CTX_copy_ex(copy.get(), ctx_) != 1) std::abort();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy.get(), digest, &len);
  return ToHex(digest, len);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return ToHex(digest, len);
}

Result<std::string> HashFile(const std::string& path) {
  exec::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return IoError("cannot open '" + path + "' to hash it", errno, "check that it exists");
  struct stat st = {};
  if (::fstat(fd.get(), &st) != 0) return IoError("cannot stat '" + path + "'", errno, "check the file");
  if (!S_ISREG(st.st_mode)) {
    return Status::Error("cannot hash '" + path + "': it is not a regular file; give a file's path");
  }
  Sha256 hash;
  std::string buf(kIoChunk, '\0');
  for (;;) {
    const ssize_t n = ReadSome(fd.get(), buf.data(), buf.size());
    if (n < 0) return IoError("cannot read '" + path + "' to hash it", errno, "check the disk");
    if (n == 0) break;
    hash.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  return hash.HexDigest();
}

bool IsSha256Hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

uint32_t Crc32(std::string_view data) {
  const auto* bytes = reinterpret_cast<const Bytef*>(data.data());
  return static_cast<uint32_t>(crc32_z(crc32_z(0L, Z_NULL, 0), bytes, data.size()));
}

}  // namespace titan::artifacts
