// PackFolder: a folder written as a zip through libarchive, in sorted order, file contents streamed.
// Implements PackFolder from zip_archive.h.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include "artifacts/file_io.h"
#include "artifacts/zip_archive.h"
#include "base/unique_fd.h"

namespace titan::artifacts {
namespace {

namespace fs = std::filesystem;

struct WriteFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
struct DirClose {
  void operator()(DIR* d) const { ::closedir(d); }
};
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using Entry = std::unique_ptr<archive_entry, EntryFree>;

// Packing state: the zip being written, the folder's real path, the files not to pack (the partial
// zip and an older zip_path, when they lie inside the folder), and what was packed against the limits.
struct Packer {
  archive* zip = nullptr;
  std::string zip_path;
  std::string root;  // real path of the folder
  struct stat skip[2] = {};
  UnpackLimits limits;
  int64_t entries = 0, file_bytes = 0;

  bool Skipped(const struct stat& st) const {
    for (const struct stat& s : skip) {
      if (s.st_ino != 0 && s.st_dev == st.st_dev && s.st_ino == st.st_ino) return true;
    }
    return false;
  }

  // Counts one more entry (with `bytes` of file content); an error once over what a worker unpacks.
  Status Count(int64_t bytes) {
    file_bytes += bytes;
    if (++entries > limits.max_entries) {
      return TooBig("more than " + std::to_string(limits.max_entries) + " files and folders");
    }
    if (file_bytes > limits.max_bytes) {
      return TooBig("more than " + std::to_string(limits.max_bytes) + " bytes of files");
    }
    return Status::Ok();
  }

  Status TooBig(const std::string& what) const {
    return Status::Error("cannot pack '" + root + "': it holds " + what +
                         ", more than a worker unpacks; move data out of the folder (into "
                         "TitanStore or an uploaded artifact) or pack a smaller folder");
  }

  Status Fail(const std::string& what) const {
    const char* text = archive_error_string(zip);
    return Status::Error("cannot write '" + zip_path + "' while adding '" + what + "' (" +
                         (text != nullptr ? text : "unknown libarchive error") + "); check free disk space");
  }
};

Status AddFolder(Packer& p, const std::string& rel);

// Sorted names in the folder `dir`, without "." and "..".
Result<std::vector<std::string>> ListFolder(const std::string& dir) {
  std::unique_ptr<DIR, DirClose> d(::opendir(dir.c_str()));
  if (d == nullptr) return IoError("cannot list folder '" + dir + "'", errno, "check its permissions");
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

Entry Header(const std::string& rel, const struct stat& st, mode_t type) {
  Entry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), rel.c_str());
  archive_entry_set_filetype(e.get(), type);
  archive_entry_set_perm(e.get(), st.st_mode & 0777);
  archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  return e;
}

Status AddFile(Packer& p, const std::string& rel, const struct stat& st) {
  const std::string path = p.root + "/" + rel;
  exec::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) return IoError("cannot open '" + path + "' to pack it", errno, "check its permissions");
  Entry e = Header(rel, st, AE_IFREG);
  archive_entry_set_size(e.get(), st.st_size);
  if (archive_write_header(p.zip, e.get()) < ARCHIVE_WARN) return p.Fail(rel);
  std::string buf(kIoChunk, '\0');
  int64_t total = 0;
  for (;;) {
    const ssize_t n = ReadSome(fd.get(), buf.data(), buf.size());
    if (n < 0) return IoError("cannot read '" + path + "' to pack it", errno, "check the disk");
    if (n == 0) break;
    if (archive_write_data(p.zip, buf.data(), static_cast<size_t>(n)) != n) {
      return total + n > st.st_size ? Status::Error("'" + path + "' grew while it was packed; pack again")
                                    : p.Fail(rel);
    }
    total += n;
  }
  if (total != st.st_size) {
    return Status::Error("'" + path + "' shrank while it was packed; pack again");
  }
  return Status::Ok();
}

Status AddLink(Packer& p, const std::string& rel, const struct stat& st) {
  const std::string path = p.root + "/" + rel;
  std::string target(PATH_MAX, '\0');
  const ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
  if (n < 0) return IoError("cannot read link '" + path + "'", errno, "check it");
  target.resize(static_cast<size_t>(n));
  const std::string parent = fs::path(rel).parent_path().generic_string();
  const std::string joined =
      fs::path(parent.empty() ? target : parent + "/" + target).lexically_normal().generic_string();
  std::unique_ptr<char, decltype(&::free)> real(::realpath(path.c_str(), nullptr), &::free);
  const bool escapes = target.empty() || target.front() == '/' || joined == ".." ||
                       joined.rfind("../", 0) == 0 ||
                       (real != nullptr && std::string(real.get()) != p.root &&
                        std::string(real.get()).rfind(p.root + "/", 0) != 0);
  if (escapes) {
    return Status::Error("cannot pack '" + path + "': it is a link to '" + target +
                         "', outside the folder; replace it with the file itself or a relative link inside");
  }
  Entry e = Header(rel, st, AE_IFLNK);
  archive_entry_set_symlink(e.get(), target.c_str());
  return archive_write_header(p.zip, e.get()) < ARCHIVE_WARN ? p.Fail(rel) : Status::Ok();
}

Status AddPath(Packer& p, const std::string& rel) {
  const std::string path = p.root + "/" + rel;
  struct stat st = {};
  if (::lstat(path.c_str(), &st) != 0) return IoError("cannot stat '" + path + "'", errno, "check it");
  if (p.Skipped(st)) return Status::Ok();
  if (Status s = p.Count(S_ISREG(st.st_mode) ? st.st_size : 0); !s.ok()) return s;
  if (S_ISREG(st.st_mode)) return AddFile(p, rel, st);
  if (S_ISLNK(st.st_mode)) return AddLink(p, rel, st);
  if (!S_ISDIR(st.st_mode)) {
    return Status::Error("cannot pack '" + path + "': it is not a file, folder or link; remove it");
  }
  Entry e = Header(rel + "/", st, AE_IFDIR);
  if (archive_write_header(p.zip, e.get()) < ARCHIVE_WARN) return p.Fail(rel);
  return AddFolder(p, rel);
}

Status AddFolder(Packer& p, const std::string& rel) {
  Result<std::vector<std::string>> names = ListFolder(rel.empty() ? p.root : p.root + "/" + rel);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (Status s = AddPath(p, rel.empty() ? name : rel + "/" + name); !s.ok()) return s;
  }
  return Status::Ok();
}

Status WriteZip(Packer& p, int fd) {
  std::unique_ptr<archive, WriteFree> zip(archive_write_new());
  if (zip == nullptr) {
    return Status::Error("cannot write '" + p.zip_path + "': out of memory; try again");
  }
  p.zip = zip.get();
  archive_write_set_format_zip(p.zip);
  archive_write_set_bytes_in_last_block(p.zip, 1);  // no padding after the zip's end record
  if (archive_write_open_fd(p.zip, fd) != ARCHIVE_OK) return p.Fail(".");
  if (Status s = AddFolder(p, ""); !s.ok()) return s;
  if (archive_write_close(p.zip) != ARCHIVE_OK) return p.Fail(".");
  return Status::Ok();
}

}  // namespace

Status PackFolder(const std::string& src_dir, const std::string& zip_path, const UnpackLimits& limits) {
  std::error_code ec;
  Packer p;
  p.zip_path = zip_path;
  p.limits = limits;
  p.root = fs::canonical(src_dir, ec).string();
  if (ec || !fs::is_directory(p.root, ec)) {
    return Status::Error("cannot pack '" + src_dir + "': it is not a folder; give a folder's path");
  }
  const std::string partial = zip_path + ".partial";
  exec::UniqueFd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) return IoError("cannot create '" + partial + "'", errno, "check the folder's permissions");
  ::fstat(fd.get(), &p.skip[0]);
  ::stat(zip_path.c_str(), &p.skip[1]);  // stays zeroed when there is no older zip
  Status s = WriteZip(p, fd.get());
  if (s.ok() && ::fsync(fd.get()) != 0) {
    s = IoError("cannot fsync '" + partial + "'", errno, "check the disk");
  }
  if (s.ok() && ::rename(partial.c_str(), zip_path.c_str()) != 0) {
    s = IoError("cannot rename '" + partial + "' to '" + zip_path + "'", errno,
                "check the folder's permissions");
  }
  if (!s.ok()) ::unlink(partial.c_str());
  return s;
}

}  // namespace titan::artifacts
