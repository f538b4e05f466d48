// Registry: the broker's named artifacts. Blobs in a BlobStore, names in a durable index, and each
// published name visible to people as <root>/<space>/<name>. Single owner; not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "artifacts/artifact_index.h"
#include "artifacts/blob_store.h"
#include "base/status.h"

namespace titan::artifacts {

// The spaces names live in: client uploads, and permanent files operators may also drop in by hand.
inline constexpr std::string_view kUploads = "uploads";
inline constexpr std::string_view kPermFiles = "perm_files";

class Registry {
 public:
  // Creates as needed <root>/blobs and <root>/partial (the BlobStore, emptying partial/),
  // <root>/uploads/, <root>/perm_files/ and the index <root>/artifacts.db.
  static Result<std::unique_ptr<Registry>> Open(std::string root);

  BlobStore& blobs() { return blobs_; }
  const std::string& root() const { return root_; }

  // Names the stored blob `sha256` as `name` in `space`, replacing what that name held. The index row
  // is durable on return, and <root>/<space>/<name> is a hard link to the blob (a copy when linking
  // fails), swapped in atomically. Error: unknown space, invalid name, no such blob, a folder on the
  // way is a file or a link leading outside the space, or the disk fails.
  Result<ArtifactInfo> Publish(const std::string& space, const std::string& name, const std::string& sha256,
                               int64_t now_ms);

  // The artifact `name` in `space`. In perm_files, a regular file at <root>/perm_files/<name> that
  // the index does not know, or whose size or mtime differ from what it recorded, is imported into
  // the blobs and indexed first (created_ms is then the file's mtime). Error: unknown space, invalid
  // name, the path resolves outside <root>/<space>/ (a link), or no such artifact.
  Result<ArtifactInfo> Stat(const std::string& space, const std::string& name);

  // Indexed artifacts of `space` ("" for all), ordered by space then name. Files dropped into
  // perm_files/ appear once Stat has seen them. Empty for an unknown space or a database error.
  std::vector<ArtifactInfo> List(const std::string& space);

  // Forgets `name`: removes its index row and visible file, then its blob unless another row points
  // at it or in_use(sha256) says a transfer or job still needs it. Error: unknown space, invalid
  // name, no such artifact, or the disk fails.
  Status Remove(const std::string& space, const std::string& name,
                const std::function<bool(const std::string& sha256)>& in_use);

 private:
  Registry(std::string root, BlobStore blobs) : root_(std::move(root)), blobs_(std::move(blobs)) {}
  std::string SpaceDir(const std::string& space) const { return root_ + "/" + space; }
  Result<std::optional<IndexEntry>> RefreshPermFile(const std::string& name, std::optional<IndexEntry> known);
  Status DropBlobIfUnused(const std::string& sha256, const std::function<bool(const std::string&)>& in_use);

  std::string root_;
  BlobStore blobs_;
  ArtifactIndex index_;
};

}  // namespace titan::artifacts
