// BlobWriter: in-order chunk appends to a partial file, then verification and an atomic, durable
// rename into blobs/.
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/blob_store.h"
#include "artifacts/file_io.h"

namespace titan::artifacts {

BlobWriter::BlobWriter(BlobStore store, std::string partial_path, exec::UniqueFd fd, int64_t expected_size,
                       std::string expected_sha256)
    : store_(std::move(store)),
      partial_path_(std::move(partial_path)),
      fd_(std::move(fd)),
      expected_size_(expected_size),
      expected_sha256_(std::move(expected_sha256)) {}

BlobWriter::BlobWriter(BlobWriter&& other) noexcept
    : store_(std::move(other.store_)),
      partial_path_(std::exchange(other.partial_path_, "")),
      fd_(std::move(other.fd_)),
      hash_(std::move(other.hash_)),
      expected_size_(other.expected_size_),
      received_(other.received_),
      expected_sha256_(std::move(other.expected_sha256_)) {}

BlobWriter& BlobWriter::operator=(BlobWriter&& other) noexcept {
  if (this != &other) {
    Discard();
    store_ = std::move(other.store_);
    partial_path_ = std::exchange(other.partial_path_, "");
    fd_ = std::move(other.fd_);
    hash_ = std::move(other.hash_);
    expected_size_ = other.expected_size_;
    received_ = other.received_;
    expected_sha256_ = std::move(other.expected_sha256_);
  }
  return *this;
}

BlobWriter::~BlobWriter() { Discard(); }

void BlobWriter::Discard() {
  fd_.Reset();
  if (!partial_path_.empty()) ::unlink(partial_path_.c_str());
  partial_path_.clear();
}

Status BlobWriter::Append(int64_t offset, std::string_view bytes) {
  if (partial_path_.empty()) {
    return Status::Error("this upload is already finished: start a new one to send more data");
  }
  if (offset != received_) {
    const std::string expected = std::to_string(received_);
    return Status::Error("chunk at offset " + std::to_string(offset) + ", expected " + expected +
                         ": resend from " + expected);
  }
  const auto size = static_cast<int64_t>(bytes.size());
  if (size > expected_size_ - received_) {
    return Status::Error("chunk of " + std::to_string(size) + " bytes at offset " + std::to_string(offset) +
                         " goes past the announced size of " + std::to_string(expected_size_) +
                         " bytes: send at most " + std::to_string(expected_size_ - received_) +
                         " bytes or restart the upload with the right size");
  }
  if (Status s = WriteAllAt(fd_.get(), offset, bytes, partial_path_); !s.ok()) {
    (void)::ftruncate(fd_.get(), static_cast<off_t>(received_));  // drop a half-written chunk
    return s;
  }
  hash_.Update(bytes);
  received_ += size;
  return Status::Ok();
}

Result<std::string> BlobWriter::Commit() {
  if (partial_path_.empty()) return Status::Error("this upload is already finished: start a new one");
  if (received_ != expected_size_) {
    const std::string got = std::to_string(received_);
    return Status::Error("upload incomplete: received " + got + " of " + std::to_string(expected_size_) +
                         " bytes; send the rest from offset " + got);
  }
  const std::string sha256 = hash_.HexDigest();
  if (!expected_sha256_.empty() && sha256 != expected_sha256_) {
    Discard();
    return Status::Error("content hash mismatch: expected " + expected_sha256_ + ", got " + sha256 +
                         "; upload again");
  }
  // Read-only, so a hard link to the blob (a registry's visible file) is not edited in place by accident.
  if (::fchmod(fd_.get(), 0444) != 0 || ::fsync(fd_.get()) != 0) {
    return IoError("cannot finish '" + partial_path_ + "'", errno, "check the disk and upload again");
  }
  fd_.Reset();
  const std::string path = store_.PathOf(sha256);
  const std::string dir = path.substr(0, path.rfind('/'));
  if (::mkdir(dir.c_str(), 0755) == 0) {
    if (Status s = FsyncDir(store_.root() + "/blobs"); !s.ok()) return s;
  } else if (errno != EEXIST) {
    return IoError("cannot create folder '" + dir + "'", errno, "check the store's permissions");
  }
  if (store_.Has(sha256)) {
    Discard();  // same content already stored
    return sha256;
  }
  if (::rename(partial_path_.c_str(), path.c_str()) != 0) {
    return IoError("cannot move '" + partial_path_ + "' to '" + path + "'", errno,
                   "check the store's permissions");
  }
  partial_path_.clear();
  if (Status s = FsyncDir(dir); !s.ok()) return s;
  return sha256;
}

}  // namespace titan::artifacts
