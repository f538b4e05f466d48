// Registry: publishing names over blobs, the perm_files pick-up of hand-dropped files, listing and
// removal with blob reference counting.
#include "artifacts/registry.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/artifact_name.h"
#include "artifacts/file_io.h"
#include "artifacts/visible_file.h"

namespace titan::artifacts {
namespace {

Status ValidateSpace(const std::string& space) {
  if (space == kUploads || space == kPermFiles) return Status::Ok();
  return Status::Error("unknown artifact space '" + space + "': use 'uploads' or 'perm_files'");
}

Status Validate(const std::string& space, const std::string& name) {
  if (Status s = ValidateSpace(space); !s.ok()) return s;
  return ValidateName(name);
}

Status NotFound(const std::string& space, const std::string& name) {
  const std::string how = space == kPermFiles ? "deploy it with `titan deploy-script " + name + "`"
                                              : "upload it with `titan upload " + name + "`";
  return Status::Error("no artifact '" + name + "' in " + space + "; " + how);
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

Result<std::unique_ptr<Registry>> Registry::Open(std::string root) {
  Result<BlobStore> blobs = BlobStore::Open(root);
  if (!blobs.ok()) return blobs.status();
  for (std::string_view space : {kUploads, kPermFiles}) {
    if (Status s = MakeDirs(root + "/" + std::string(space)); !s.ok()) return s;
  }
  std::unique_ptr<Registry> registry(new Registry(root, std::move(blobs).value()));
  if (Status s = registry->index_.Open(root + "/artifacts.db"); !s.ok()) return s;
  return registry;
}

Result<ArtifactInfo> Registry::Publish(const std::string& space, const std::string& name,
                                       const std::string& sha256, int64_t now_ms) {
  if (Status s = Validate(space, name); !s.ok()) return s;
  Result<int64_t> size = blobs_.Size(sha256);
  if (!size.ok()) {
    return Status::Error("cannot publish '" + name + "' in " + space + ": " + size.message());
  }
  if (Status s = MakeParentsInside(SpaceDir(space), space, name); !s.ok()) return s;
  const std::string dest = SpaceDir(space) + "/" + name;
  if (Status s = PlaceFile(blobs_.PathOf(sha256), dest); !s.ok()) return s;
  struct stat st = {};
  if (::stat(dest.c_str(), &st) != 0) {
    return IoError("cannot stat '" + dest + "'", errno, "check the registry");
  }
  IndexEntry entry{{space, name, sha256, *size, now_ms}, MtimeNs(st)};
  if (Status s = index_.Put(entry); !s.ok()) return s;
  return entry.info;
}

Result<ArtifactInfo> Registry::Stat(const std::string& space, const std::string& name) {
  if (Status s = Validate(space, name); !s.ok()) return s;
  Result<std::optional<IndexEntry>> known = index_.Get(space, name);
  if (!known.ok()) return known.status();
  const std::string path = SpaceDir(space) + "/" + name;
  struct stat st = {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (Status s = CheckResolvesInside(path, SpaceDir(space), space, name); !s.ok()) return s;
    if (space == kPermFiles) known = RefreshPermFile(name, std::move(known).value());
    if (!known.ok()) return known.status();
  }
  if (!known->has_value()) return NotFound(space, name);
  return (*known)->info;
}

// The index entry for perm_files/<name> (which exists and resolves inside perm_files/), importing the
// file first when it is new or changed since it was recorded.
Result<std::optional<IndexEntry>> Registry::RefreshPermFile(const std::string& name,
                                                            std::optional<IndexEntry> known) {
  const std::string space(kPermFiles);
  const std::string path = SpaceDir(space) + "/" + name;
  struct stat st = {};
  if (::stat(path.c_str(), &st) != 0) return IoError("cannot stat '" + path + "'", errno, "check the file");
  if (!S_ISREG(st.st_mode)) {
    if (known) return known;
    return Status::Error("artifact '" + name + "' in perm_files is not a regular file; replace it with one");
  }
  if (known && known->info.size == st.st_size && known->mtime_ns == MtimeNs(st)) return known;
  // A published file is a hard link to its blob: if it was edited in place, that blob no longer holds
  // the content its name promises, and must go once the new content is imported.
  struct stat blob = {};
  const bool edited_blob =
      known && ::stat(blobs_.PathOf(known->info.sha256).c_str(), &blob) == 0 && SameFile(st, blob);
  Result<std::string> sha256 = blobs_.Import(path);
  if (!sha256.ok()) return sha256.status();
  if (edited_blob && *sha256 != known->info.sha256) {
    if (Status s = blobs_.Remove(known->info.sha256); !s.ok()) return s;
  }
  Result<int64_t> size = blobs_.Size(*sha256);
  if (!size.ok()) return size.status();
  IndexEntry entry{{space, name, *sha256, *size, MtimeNs(st) / 1'000'000}, MtimeNs(st)};
  if (Status s = index_.Put(entry); !s.ok()) return s;
  return std::optional<IndexEntry>(std::move(entry));
}

std::vector<ArtifactInfo> Registry::List(const std::string& space) {
  if (!space.empty() && !ValidateSpace(space).ok()) return {};
  Result<std::vector<ArtifactInfo>> rows = index_.List(space);
  return rows.ok() ? std::move(rows).value() : std::vector<ArtifactInfo>();
}

Status Registry::Remove(const std::string& space, const std::string& name,
                        const std::function<bool(const std::string& sha256)>& in_use) {
  if (Status s = Validate(space, name); !s.ok()) return s;
  Result<std::optional<IndexEntry>> known = index_.Get(space, name);
  if (!known.ok()) return known.status();
  const std::string path = SpaceDir(space) + "/" + name;
  const std::string parent = path.substr(0, path.rfind('/'));
  struct stat st = {};
  const bool visible = ::lstat(path.c_str(), &st) == 0;
  if (!known->has_value() && !visible) {
    return Status::Error("no artifact '" + name + "' in " + space + " to remove; check the name");
  }
  if (visible && parent != SpaceDir(space)) {  // never unlink through a folder link leading outside
    if (Status s = CheckResolvesInside(parent, SpaceDir(space), space, name); !s.ok()) return s;
  }
  if (Status s = index_.Delete(space, name); !s.ok()) return s;
  if (visible && ::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return IoError("cannot remove '" + path + "'", errno, "remove it by hand");
  }
  PruneEmptyFolders(parent, SpaceDir(space));
  if (!known->has_value()) return Status::Ok();
  return DropBlobIfUnused((*known)->info.sha256, in_use);
}

Status Registry::DropBlobIfUnused(const std::string& sha256,
                                  const std::function<bool(const std::string&)>& in_use) {
  Result<int64_t> refs = index_.CountRefs(sha256);
  if (!refs.ok()) return refs.status();
  if (*refs > 0 || (in_use && in_use(sha256))) return Status::Ok();
  return blobs_.Remove(sha256);
}

}  // namespace titan::artifacts
