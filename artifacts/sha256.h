// Content hashes for artifacts: incremental SHA-256 (OpenSSL EVP), whole-file hashing that streams,
// and zlib's CRC-32. Hashes are rendered as lowercase hex.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace titan::artifacts {

// Incremental SHA-256. Move-only; owns one EVP digest context. A moved-from hasher may only be
// destroyed or assigned to. Allocation failure inside OpenSSL aborts, like operator new would.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The digest of everything passed to Update so far, as 64 lowercase hex digits. Does not end the
  // hash: more Update calls may follow.
  std::string HexDigest() const;

 private:
  evp_md_ctx_st* ctx_ = nullptr;
};

// SHA-256 of `data`, 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

// SHA-256 of the file at `path`, read in 1 MiB pieces (never whole). Error: the file cannot be
// opened or read, or is not a regular file.
Result<std::string> HashFile(const std::string& path);

// True when `text` is exactly 64 lowercase hex digits, the form every hash here takes.
bool IsSha256Hex(std::string_view text);

// zlib's CRC-32 (the one zip uses) of `data`.
uint32_t Crc32(std::string_view data);

}  // namespace titan::artifacts
