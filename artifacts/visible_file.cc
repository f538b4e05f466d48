// Visible files: confinement checks through realpath, parent folders, atomic link-or-copy placement.
#include "artifacts/visible_file.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <memory>

#include "artifacts/file_io.h"

namespace titan::artifacts {
namespace {

std::string RealPath(const std::string& path) {
  std::unique_ptr<char, decltype(&::free)> resolved(::realpath(path.c_str(), nullptr), &::free);
  return resolved ? std::string(resolved.get()) : std::string();
}

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

}  // namespace

Status CheckResolvesInside(const std::string& path, const std::string& space_dir, const std::string& space,
                           const std::string& name) {
  const std::string dir = RealPath(space_dir);
  if (dir.empty()) return IoError("cannot resolve folder '" + space_dir + "'", errno, "check that it exists");
  const std::string real = RealPath(path);
  if (real.empty() || real.compare(0, dir.size() + 1, dir + "/") != 0) {
    return Status::Error("artifact '" + name + "' is a link that leads outside " + space +
                         "/; replace it with a regular file");
  }
  return Status::Ok();
}

Status MakeParentsInside(const std::string& space_dir, const std::string& space, const std::string& name) {
  std::string path = space_dir;
  for (size_t start = 0, slash; (slash = name.find('/', start)) != std::string::npos; start = slash + 1) {
    path += "/" + name.substr(start, slash - start);
    struct stat st = {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT && (::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST)) continue;
      return IoError("cannot create folder '" + path + "'", errno, "check the registry's permissions");
    }
    if (S_ISLNK(st.st_mode)) {
      const std::string folder = name.substr(0, slash);
      if (Status s = CheckResolvesInside(path, space_dir, space, folder); !s.ok()) return s;
      if (::stat(path.c_str(), &st) != 0) {
        return IoError("cannot stat '" + path + "'", errno, "check the link");
      }
    }
    if (!S_ISDIR(st.st_mode)) {
      return Status::Error("cannot store artifact '" + name + "': '" + path +
                           "' is a file, not a folder; remove it or choose another name");
    }
  }
  return Status::Ok();
}

Status PlaceFile(const std::string& blob, const std::string& dest) {
  static std::atomic<uint64_t> counter{0};
  const std::string dir = Parent(dest);
  std::string tmp;
  for (;;) {
    tmp = dir + "/.titan-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    if (::link(blob.c_str(), tmp.c_str()) == 0) break;
    if (errno == EEXIST) continue;
    if (Status s = CopyNewFile(blob, tmp, 0444); !s.ok()) return s;  // EXDEV, EPERM, EMLINK, ...
    break;
  }
  const int renamed = ::rename(tmp.c_str(), dest.c_str());
  const int err = errno;
  // rename() leaves both names when they are already links to one file (the same blob republished).
  ::unlink(tmp.c_str());
  if (renamed != 0) {
    return IoError("cannot put '" + dest + "' in place", err, "remove whatever is at that path");
  }
  return FsyncDir(dir);
}

void PruneEmptyFolders(std::string dir, const std::string& stop) {
  while (dir.size() > stop.size() && dir.compare(0, stop.size(), stop) == 0 && ::rmdir(dir.c_str()) == 0) {
    dir = Parent(dir);
  }
}

}  // namespace titan::artifacts
