// Unpack: a zip from an untrusted client extracted through libarchive's disk writer, after every
// entry has been checked, counting the bytes really written. Implements Unpack from zip_archive.h.
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "artifacts/file_io.h"
#include "artifacts/zip_archive.h"

namespace titan::artifacts {
namespace {

namespace fs = std::filesystem;

struct ReadFree {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveReader = std::unique_ptr<archive, ReadFree>;
using DiskWriter = std::unique_ptr<archive, WriteFree>;

std::string ArchiveError(archive* a) {
  const char* text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

Status Refuse(const std::string& zip, const std::string& why) {
  return Status::Error("archive '" + zip + "' " + why);
}

Status TooManyEntries(const std::string& zip, const UnpackLimits& limits) {
  return Refuse(zip, "has more than " + std::to_string(limits.max_entries) +
                         " entries, the unpack limit; refusing it: pack fewer files");
}

Result<ArchiveReader> OpenZip(const std::string& zip) {
  ArchiveReader a(archive_read_new());
  if (a == nullptr) return Refuse(zip, "cannot be read: out of memory; try again");
  archive_read_support_format_zip(a.get());
  if (archive_read_open_filename(a.get(), zip.c_str(), 1 << 16) != ARCHIVE_OK) {
    return Refuse(zip, "cannot be opened (" + ArchiveError(a.get()) + "); check that it is a zip file");
  }
  return a;
}

// An entry path made relative and normal ("a/./b/" -> "a/b"); "" for the project folder itself.
// nullopt when it is absolute or leads outside.
std::optional<std::string> Confine(const std::string& raw) {
  if (raw.empty() || raw.front() == '/') return std::nullopt;
  std::string norm = fs::path(raw).lexically_normal().generic_string();
  while (!norm.empty() && norm.back() == '/') norm.pop_back();
  if (norm == ".") norm.clear();
  if (norm == ".." || norm.rfind("../", 0) == 0) return std::nullopt;
  return norm;
}

// Checks one entry's name, type and link target. Returns its confined relative path.
Result<std::string> CheckEntry(const std::string& zip, archive_entry* e) {
  const char* name = archive_entry_pathname(e);
  if (name == nullptr) name = archive_entry_pathname_utf8(e);
  if (name == nullptr) return Refuse(zip, "has an entry whose name cannot be read; refusing it");
  const std::string quoted = "entry '" + std::string(name) + "'";
  const std::optional<std::string> rel = Confine(name);
  if (!rel) return Refuse(zip, quoted + " would be written outside the project folder; refusing it");
  const mode_t type = archive_entry_filetype(e);
  if (archive_entry_hardlink(e) != nullptr || (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)) {
    return Refuse(zip, quoted + " is not a file, folder or symlink; refusing it");
  }
  if (type == AE_IFLNK) {
    const char* target = archive_entry_symlink(e);
    const std::string parent = fs::path(*rel).parent_path().generic_string();
    if (target == nullptr || !Confine(parent.empty() ? target : parent + "/" + target)) {
      return Refuse(zip, quoted + " is a link leading outside the project folder; refusing it");
    }
  }
  return *rel;
}

// First pass: every entry checked and counted, nothing written.
Status CheckAll(const std::string& zip, const UnpackLimits& limits) {
  Result<ArchiveReader> a = OpenZip(zip);
  if (!a.ok()) return a.status();
  archive_entry* e = nullptr;
  int64_t entries = 0;
  int r;
  while ((r = archive_read_next_header(a->get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (++entries > limits.max_entries) return TooManyEntries(zip, limits);
    if (Result<std::string> rel = CheckEntry(zip, e); !rel.ok()) return rel.status();
  }
  if (r != ARCHIVE_EOF) return Refuse(zip, "is damaged (" + ArchiveError(a->get()) + "); pack it again");
  return Status::Ok();
}

// Copies one entry's data, counting the bytes written into *total.
Status CopyData(const std::string& zip, archive* in, archive* out, const UnpackLimits& limits,
                int64_t* total) {
  const void* buf = nullptr;
  size_t size = 0;
  la_int64_t offset = 0;
  int r;
  while ((r = archive_read_data_block(in, &buf, &size, &offset)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    *total += static_cast<int64_t>(size);
    if (*total > limits.max_bytes) {
      return Refuse(zip, "unpacks to more than " + std::to_string(limits.max_bytes) +
                             " bytes, the unpack limit; refusing it: pack less data or raise the limit");
    }
    if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
      return Refuse(zip, "cannot be unpacked (" + ArchiveError(out) + "); check free disk space");
    }
  }
  if (r != ARCHIVE_EOF) return Refuse(zip, "is damaged (" + ArchiveError(in) + "); pack it again");
  return Status::Ok();
}

// Second pass: extraction into `dest` (a real path). Paths created are appended to *created.
Status Extract(const std::string& zip, const std::string& dest, const UnpackLimits& limits,
               std::vector<std::string>* created, std::vector<std::string>* links) {
  Result<ArchiveReader> in = OpenZip(zip);
  if (!in.ok()) return in.status();
  DiskWriter out(archive_write_disk_new());
  if (out == nullptr) return Refuse(zip, "cannot be unpacked: out of memory; try again");
  // Entry names are rewritten to absolute paths under `dest` (libarchive has no target-folder option,
  // and chdir would move the whole process), so ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS cannot be set:
  // Confine() refuses absolute entry names instead.
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS);
  archive_entry* e = nullptr;
  int64_t entries = 0, total = 0;
  int r;
  while ((r = archive_read_next_header(in->get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (++entries > limits.max_entries) return TooManyEntries(zip, limits);
    Result<std::string> rel = CheckEntry(zip, e);
    if (!rel.ok()) return rel.status();
    if (rel->empty()) continue;
    const std::string path = dest + "/" + *rel;
    struct stat st = {};
    if (::lstat(path.c_str(), &st) != 0) created->push_back(path);
    archive_entry_set_pathname(e, path.c_str());
    const mode_t type = archive_entry_filetype(e);
    if (type == AE_IFLNK) links->push_back(path);
    if (type != AE_IFLNK) {
      archive_entry_set_perm(e, type == AE_IFDIR || (archive_entry_perm(e) & 0111) ? 0755 : 0644);
    }
    if (archive_write_header(out.get(), e) < ARCHIVE_WARN) {
      return Refuse(zip,
                    "entry '" + *rel + "' cannot be unpacked (" + ArchiveError(out.get()) + "); refusing it");
    }
    if (type == AE_IFREG) {
      if (Status s = CopyData(zip, in->get(), out.get(), limits, &total); !s.ok()) return s;
    }
    if (archive_write_finish_entry(out.get()) < ARCHIVE_WARN) {
      return Refuse(zip, "entry '" + *rel + "' cannot be unpacked (" + ArchiveError(out.get()) +
                             "); check free disk space");
    }
  }
  if (r != ARCHIVE_EOF) return Refuse(zip, "is damaged (" + ArchiveError(in->get()) + "); pack it again");
  if (archive_write_close(out.get()) < ARCHIVE_WARN) {
    return Refuse(zip, "cannot be unpacked (" + ArchiveError(out.get()) + "); check free disk space");
  }
  return Status::Ok();
}

// A chain of links can escape where each link alone does not: resolve the ones that resolve.
Status CheckLinks(const std::string& zip, const std::string& dest, const std::vector<std::string>& links) {
  for (const std::string& link : links) {
    std::unique_ptr<char, decltype(&::free)> real(::realpath(link.c_str(), nullptr), &::free);
    if (real != nullptr && std::string(real.get()).rfind(dest + "/", 0) != 0 && real.get() != dest) {
      return Refuse(zip, "entry '" + link.substr(dest.size() + 1) +
                             "' is a link leading outside the project folder; refusing it");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<std::string>> ListEntries(const std::string& zip_path) {
  Result<ArchiveReader> a = OpenZip(zip_path);
  if (!a.ok()) return a.status();
  std::vector<std::string> names;
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a->get(), &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    const char* name = archive_entry_pathname(e);
    if (name == nullptr) name = archive_entry_pathname_utf8(e);
    names.emplace_back(name != nullptr ? name : "");
  }
  if (r != ARCHIVE_EOF) return Refuse(zip_path, "is damaged (" + ArchiveError(a->get()) + "); pack it again");
  return names;
}

Status Unpack(const std::string& zip_path, const std::string& dest_dir, const UnpackLimits& limits) {
  if (Status s = CheckAll(zip_path, limits); !s.ok()) return s;
  std::error_code ec;
  const bool made_dest = !fs::exists(dest_dir, ec);
  if (Status s = MakeDirs(dest_dir); !s.ok()) return s;
  const std::string dest = fs::canonical(dest_dir, ec).string();
  if (ec) return IoError("cannot resolve folder '" + dest_dir + "'", ec.value(), "check its permissions");
  std::vector<std::string> created, links;
  Status s = Extract(zip_path, dest, limits, &created, &links);
  if (s.ok()) s = CheckLinks(zip_path, dest, links);
  if (s.ok()) return s;
  if (made_dest) {
    fs::remove_all(dest, ec);
  } else {
    for (auto it = created.rbegin(); it != created.rend(); ++it) fs::remove_all(*it, ec);
  }
  return s;
}

}  // namespace titan::artifacts
