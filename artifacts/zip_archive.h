// Zipped projects through libarchive: unpacking an untrusted zip safely into a folder (no zip-slip,
// bounded size and entry count), and packing a folder into a zip. (Not "archive.h": that name is
// libarchive's own header, which this folder's include path would shadow.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace titan::artifacts {

struct UnpackLimits {
  int64_t max_bytes = 4LL << 30;  // file bytes actually written, all entries together
  int64_t max_entries = 100000;
};

// Extracts the zip `zip_path` into `dest_dir` (created if missing). Regular files, folders and
// symlinks whose target stays inside the folder are allowed; files keep their executable bit (modes
// become 0755 or 0644). Every entry is checked before anything is written: an absolute path, a path
// or link leading outside `dest_dir`, another entry type or too many entries refuses the whole
// archive. Going over `max_bytes` while writing stops it; on any error after writing began, the
// paths this call created are removed (all of `dest_dir` when this call created it; a file that
// existed before and was overwritten keeps what was written). Security: entry names are joined to
// the real path of `dest_dir` and extracted with ARCHIVE_EXTRACT_SECURE_NODOTDOT | SECURE_SYMLINKS;
// absolute names are refused by the entry check (see zip_unpack.cc).
Status Unpack(const std::string& zip_path, const std::string& dest_dir, const UnpackLimits& limits);

// Writes a zip of every regular file, folder and symlink under `src_dir`, named relative to it, in
// sorted order, streaming file contents. A symlink is stored as a link when its target is relative
// and stays inside `src_dir`; any other symlink, or another file type, refuses the folder. A folder
// that would not unpack within `limits` (more entries, or more bytes of files) is refused too, as soon
// as packing reaches the limit. Writes `zip_path`.partial, fsyncs it, then renames it to `zip_path`;
// on error nothing is left behind. The SDK's project_zip.py packs by the same rules.
Status PackFolder(const std::string& src_dir, const std::string& zip_path, const UnpackLimits& limits = {});

// The entry names of the zip at `zip_path`, in the order stored ("dir/" for folders). Error: the file
// is not a readable zip.
Result<std::vector<std::string>> ListEntries(const std::string& zip_path);

}  // namespace titan::artifacts
