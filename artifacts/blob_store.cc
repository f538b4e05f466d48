// BlobStore: opening (and cleaning) the store, lookups, chunked reads, removal and file import.
#include "artifacts/blob_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "artifacts/file_io.h"

namespace titan::artifacts {
namespace {

Status Malformed(const std::string& sha256) {
  return Status::Error("'" + sha256 + "' is not a SHA-256 hash: use 64 lowercase hex digits");
}

Status Unknown(const std::string& sha256) {
  return Status::Error("no blob " + sha256 + " in the store: upload its content first");
}

// Opens the blob for reading and gives its size. Errors name the hash.
Result<exec::UniqueFd> OpenBlob(const BlobStore& store, const std::string& sha256, int64_t* size) {
  if (!IsSha256Hex(sha256)) return Malformed(sha256);
  exec::UniqueFd fd(::open(store.PathOf(sha256).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) return Unknown(sha256);
  if (!fd.valid()) {
    return IoError("cannot open blob '" + store.PathOf(sha256) + "'", errno, "check its permissions");
  }
  struct stat st = {};
  if (::fstat(fd.get(), &st) != 0) {
    return IoError("cannot stat blob '" + store.PathOf(sha256) + "'", errno, "check the disk");
  }
  *size = st.st_size;
  return fd;
}

}  // namespace

Result<BlobStore> BlobStore::Open(std::string root) {
  for (const char* sub : {"/blobs", "/partial"}) {
    if (Status s = MakeDirs(root + sub); !s.ok()) return s;
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root + "/partial", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::filesystem::remove_all(it->path(), ec);
    if (ec) break;
  }
  if (ec) return IoError("cannot clean '" + root + "/partial'", ec.value(), "remove its contents by hand");
  return BlobStore(std::move(root));
}

std::string BlobStore::PathOf(const std::string& sha256) const {
  if (!IsSha256Hex(sha256)) return "";
  return root_ + "/blobs/" + sha256.substr(0, 2) + "/" + sha256;
}

bool BlobStore::Has(const std::string& sha256) const {
  struct stat st = {};
  return IsSha256Hex(sha256) && ::stat(PathOf(sha256).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> BlobStore::Size(const std::string& sha256) const {
  if (!IsSha256Hex(sha256)) return Malformed(sha256);
  struct stat st = {};
  if (::stat(PathOf(sha256).c_str(), &st) != 0) {
    if (errno == ENOENT) return Unknown(sha256);
    return IoError("cannot stat blob '" + PathOf(sha256) + "'", errno, "check the disk");
  }
  return static_cast<int64_t>(st.st_size);
}

Status BlobStore::Read(const std::string& sha256, int64_t offset, int64_t max_bytes, std::string* out) const {
  out->clear();
  if (offset < 0 || max_bytes < 0) {
    return Status::Error("cannot read blob " + sha256 + " at offset " + std::to_string(offset) + " for " +
                         std::to_string(max_bytes) + " bytes: ask for a non-negative offset and length");
  }
  int64_t size = 0;
  Result<exec::UniqueFd> fd = OpenBlob(*this, sha256, &size);
  if (!fd.ok()) return fd.status();
  if (offset > size) {
    return Status::Error("offset " + std::to_string(offset) + " is past the end of blob " + sha256 + " (" +
                         std::to_string(size) + " bytes): ask for an offset up to its size");
  }
  out->resize(static_cast<size_t>(std::min(max_bytes, size - offset)));
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n =
        ::pread(fd->get(), out->data() + got, out->size() - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoError("cannot read blob '" + PathOf(sha256) + "'", errno, "check the disk");
    if (n == 0) break;  // shorter than it was a moment ago
    got += static_cast<size_t>(n);
  }
  out->resize(got);
  return Status::Ok();
}

Status BlobStore::Remove(const std::string& sha256) {
  if (!IsSha256Hex(sha256)) return Malformed(sha256);
  if (::unlink(PathOf(sha256).c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot remove blob '" + PathOf(sha256) + "'", errno, "check the folder's permissions");
  }
  return Status::Ok();
}

Result<std::string> BlobStore::Import(const std::string& path) {
  exec::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return IoError("cannot open '" + path + "' to import it", errno, "check that it exists");
  struct stat st = {};
  if (::fstat(in.get(), &st) != 0) return IoError("cannot stat '" + path + "'", errno, "check the file");
  if (!S_ISREG(st.st_mode)) {
    return Status::Error("cannot import '" + path + "': it is not a regular file; give a file's path");
  }
  Result<BlobWriter> writer = Begin(st.st_size, "");
  if (!writer.ok()) return writer.status();
  std::string buf(kIoChunk, '\0');
  for (;;) {
    const ssize_t n = ReadSome(in.get(), buf.data(), buf.size());
    if (n < 0) return IoError("cannot read '" + path + "' to import it", errno, "check the disk");
    if (n == 0) break;
    if (!writer->Append(writer->received(), std::string_view(buf.data(), static_cast<size_t>(n))).ok()) {
      return Status::Error("file '" + path +
                           "' grew while it was imported; import it again once it is complete");
    }
  }
  if (writer->received() != st.st_size) {
    return Status::Error("file '" + path +
                         "' shrank while it was imported; import it again once it is complete");
  }
  return writer->Commit();
}

Result<BlobWriter> BlobStore::Begin(int64_t expected_size, std::string expected_sha256) {
  if (expected_size < 0) {
    return Status::Error("cannot start an upload of " + std::to_string(expected_size) +
                         " bytes: announce a size of 0 or more");
  }
  if (!expected_sha256.empty() && !IsSha256Hex(expected_sha256)) return Malformed(expected_sha256);
  std::string partial = root_ + "/partial/blob-XXXXXX";
  exec::UniqueFd fd(::mkostemp(partial.data(), O_CLOEXEC));
  if (!fd.valid()) {
    return IoError("cannot create a file in '" + root_ + "/partial'", errno, "check free disk space");
  }
  return BlobWriter(*this, std::move(partial), std::move(fd), expected_size, std::move(expected_sha256));
}

}  // namespace titan::artifacts
