// The human-visible side of a registry space (private to artifacts/): paths kept inside the space
// folder, and files swapped in atomically as hard links to blobs.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

#include "base/status.h"

namespace titan::artifacts {

inline int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Checks that the existing `path`, through any links, resolves to a place strictly inside the folder
// `space_dir`. The error names the artifact `name` and says to replace the link with a regular file.
Status CheckResolvesInside(const std::string& path, const std::string& space_dir, const std::string& space,
                           const std::string& name);

// Creates the folders between `space_dir` and <space_dir>/<name> (mode 0755). Error: one of them is
// a file, or a link leading outside `space_dir`.
Status MakeParentsInside(const std::string& space_dir, const std::string& space, const std::string& name);

// Makes `dest` a hard link to `blob` (a read-only copy when link() fails, e.g. across file systems):
// links to a temporary name in the same folder, renames it over `dest`, then fsyncs the folder.
Status PlaceFile(const std::string& blob, const std::string& dest);

// Removes the empty folders from `dir` up to, not including, `stop` (a prefix of `dir`).
void PruneEmptyFolders(std::string dir, const std::string& stop);

}  // namespace titan::artifacts
