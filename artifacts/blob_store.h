// BlobStore: files stored by content (SHA-256) under a root folder, written through BlobWriter so a
// blob becomes visible only once complete, verified and durable. Single owner; not thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "artifacts/sha256.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace titan::artifacts {

class BlobWriter;

// Layout: <root>/blobs/<first 2 hex>/<sha256> for complete blobs (read-only, mode 0444, so that a
// hard link to one is not edited in place by accident), <root>/partial/ for writes in progress.
// Every hash argument must be 64 lowercase hex digits; anything else is "not present" / an error.
class BlobStore {
 public:
  // Creates the folders as needed and empties <root>/partial/, so a write cut by a crash never
  // becomes visible. Error: the folders cannot be created or cleaned.
  static Result<BlobStore> Open(std::string root);

  bool Has(const std::string& sha256) const;
  // Error: malformed hash, or no such blob.
  Result<int64_t> Size(const std::string& sha256) const;
  // Where the blob lives (whether or not it exists); "" for a malformed hash.
  std::string PathOf(const std::string& sha256) const;
  // Replaces *out with up to `max_bytes` bytes from `offset` (fewer at the end; none at offset == size).
  // Error: malformed or unknown hash, negative offset or max_bytes, offset past the end.
  Status Read(const std::string& sha256, int64_t offset, int64_t max_bytes, std::string* out) const;
  // Deletes the blob; an absent blob is fine. Callers check that nothing refers to it any more.
  Status Remove(const std::string& sha256);
  // Copies the regular file at `path` in (streaming) and returns its hash; when that content is
  // already stored, the existing blob is kept. Error: unreadable file, or it changed while copied.
  Result<std::string> Import(const std::string& path);

  // Starts writing a blob of `expected_size` bytes whose hash, when `expected_sha256` is not empty,
  // must come out as given. Error: negative size, malformed expected hash, partial/ not writable.
  Result<BlobWriter> Begin(int64_t expected_size, std::string expected_sha256);

  const std::string& root() const { return root_; }

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// One blob being written into <root>/partial/. Move-only; destroying a writer that was not committed
// removes its partial file. Chunks must arrive in order (Append's offset == received()).
class BlobWriter {
 public:
  BlobWriter(BlobWriter&& other) noexcept;
  BlobWriter& operator=(BlobWriter&& other) noexcept;
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;
  ~BlobWriter();

  // Writes `bytes` at `offset`. Error, with the writer unchanged and still usable: offset is not
  // received() ("resend from received()"), the chunk goes past expected_size(), or the disk write
  // failed. Error after Commit.
  Status Append(int64_t offset, std::string_view bytes);
  int64_t received() const { return received_; }
  int64_t expected_size() const { return expected_size_; }

  // Verifies and publishes the blob: requires received() == expected_size() (else an error and the
  // writer stays usable) and the expected hash, if given (else the partial file is removed and the
  // writer is finished: upload again). Then fsyncs the file, renames it into blobs/ (or drops it
  // when that blob already exists) and fsyncs the folder. Returns the hash. Once only.
  Result<std::string> Commit();

 private:
  friend class BlobStore;
  BlobWriter(BlobStore store, std::string partial_path, exec::UniqueFd fd, int64_t expected_size,
             std::string expected_sha256);
  void Discard();  // removes the partial file, if still there; the writer is then finished

  BlobStore store_;
  std::string partial_path_;  // empty once committed or discarded
  exec::UniqueFd fd_;
  Sha256 hash_;
  int64_t expected_size_ = 0;
  int64_t received_ = 0;
  std::string expected_sha256_;
};

}  // namespace titan::artifacts
