// Placing a DAG job's script in the shared folder under a per-name lock (see shared_script.h).
#include "worker/shared_script.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace titan::exec {
namespace {

// An open-file-description lock on the whole file, without waiting. False when another description
// holds a conflicting lock; converting a held lock (write -> read) is atomic.
bool TryLock(int fd, short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  return fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

std::string ReadAll(const std::string& path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  *ok = in.good() || in.eof();
  return bytes;
}

// Whether `target` holds exactly the bytes of `source`.
bool SameContent(const std::string& target, const std::string& source) {
  struct stat a {
  }, b{};
  if (stat(target.c_str(), &a) != 0 || stat(source.c_str(), &b) != 0) return false;
  if (a.st_dev == b.st_dev && a.st_ino == b.st_ino) return true;
  if (a.st_size != b.st_size) return false;
  bool ok_a = false, ok_b = false;
  return ReadAll(target, &ok_a) == ReadAll(source, &ok_b) && ok_a && ok_b;
}

// Copies `source` to a temporary name beside `target` and renames it over `target`: a job that opens
// `target` sees the old bytes or the new ones, never a mix. Read-only (0555), like every job script.
Status ReplaceAtomically(const std::string& source, const std::string& target) {
  static std::atomic<uint64_t> counter{0};
  const std::string tmp = target + ".titan-tmp-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  std::error_code ec;
  std::filesystem::copy_file(source, tmp, std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return Status::Error("cannot write '" + tmp + "': " + ec.message());
  chmod(tmp.c_str(), 0555);
  if (rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return ErrnoStatus("cannot place the job's script at '" + target + "'", err);
  }
  return Status::Ok();
}

// The lock file's name for script `name` (script names hold no '/'; any would become '_').
std::string LockName(const std::string& name) {
  std::string out = name;
  for (char& c : out) {
    if (c == '/') c = '_';
  }
  return out + ".lock";
}

}  // namespace

Result<SharedPlacement> PlaceShared(const std::string& content_path, const std::string& shared_dir,
                                    const std::string& name) {
  const std::string locks = shared_dir + "/.titan";
  if (mkdir(locks.c_str(), 0755) != 0 && errno != EEXIST) {
    std::error_code ec;
    std::filesystem::create_directories(locks, ec);
    if (ec) return Status::Error("cannot create '" + locks + "': " + ec.message());
  }
  const std::string lock_path = locks + "/" + LockName(name);
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.valid()) return ErrnoStatus("cannot open the lock '" + lock_path + "'", errno);
  const std::string target = shared_dir + "/" + name;
  if (TryLock(lock.get(), F_WRLCK)) {  // no job of this name runs here: ours goes in
    if (!SameContent(target, content_path)) {
      if (Status st = ReplaceAtomically(content_path, target); !st.ok()) return st;
    }
    TryLock(lock.get(), F_RDLCK);  // downgrade, atomically: others with the same script may join
    return SharedPlacement{target, std::move(lock)};
  }
  if (TryLock(lock.get(), F_RDLCK) && SameContent(target, content_path)) {
    return SharedPlacement{target, std::move(lock)};
  }
  return SharedPlacement{};  // a different script of this name runs from there now
}

}  // namespace titan::exec
