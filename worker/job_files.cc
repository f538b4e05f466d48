// Uploads and work_dir: a walk from the job directory one component at a time with openat(O_NOFOLLOW),
// so nothing is created or written outside it.
#include "worker/job_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/relative_path.h"
#include "base/unique_fd.h"

namespace titan::exec {
namespace {

std::vector<std::string> Components(const std::string& rel) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= rel.size()) {
    const size_t end = std::min(rel.find('/', start), rel.size());
    std::string part = rel.substr(start, end - start);
    if (!part.empty() && part != ".") parts.push_back(std::move(part));
    start = end + 1;
  }
  return parts;
}

// The directory `parts` names below `root` (each made 0755 when missing), opened without following a
// symbolic link at any step. `what` prefixes errors.
Result<UniqueFd> OpenDirBeneath(const std::string& root, const std::vector<std::string>& parts,
                                const std::string& what) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) return ErrnoStatus(what + ": cannot open the job directory '" + root + "'", errno);
  for (const std::string& part : parts) {
    if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoStatus(what + ": cannot create directory '" + part + "'", errno);
    UniqueFd next(::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      const int err = errno;
      if (err == ELOOP || err == ENOTDIR)
        return Status::Error(what + ": '" + part +
                             "' is not a directory inside the job directory (a file or a symbolic link)");
      return ErrnoStatus(what + ": cannot open directory '" + part + "'", err);
    }
    dir = std::move(next);
  }
  return dir;
}

Status WriteUpload(const std::string& job_dir, const wire::Upload& up) {
  const std::string what = "upload '" + up.path + "'";
  if (std::string problem = RelativePathProblem(up.path); !problem.empty())
    return Status::Error(what + ": " + problem);
  std::vector<std::string> parts = Components(up.path);
  if (parts.empty() || up.path.back() == '/')
    return Status::Error(what + ": names a directory; give a file name");
  const std::string name = parts.back();
  parts.pop_back();
  Result<UniqueFd> dir = OpenDirBeneath(job_dir, parts, what);
  if (!dir.ok()) return dir.status();
  const mode_t mode = static_cast<mode_t>(up.mode.value_or(0644) & 07777);
  // Replaced, never written through: an existing link or file of that name goes first.
  if (::unlinkat(dir->get(), name.c_str(), 0) != 0 && errno != ENOENT) {
    const int err = errno;
    if (err != EISDIR) return ErrnoStatus("cannot replace " + what, err);
    return Status::Error(what + ": a directory of that name is in the job directory");
  }
  UniqueFd fd(::openat(dir->get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("cannot write " + what, errno);
  if (Status s = WriteAll(fd.get(), up.content, what); !s.ok()) return s;
  if (::fchmod(fd.get(), mode) != 0) return ErrnoStatus("cannot set the mode of " + what, errno);
  if (fd.Close() != 0) return ErrnoStatus("cannot write " + what, errno);
  return Status::Ok();
}

}  // namespace

Status WriteUploads(const std::string& job_dir, const std::vector<wire::Upload>& uploads) {
  for (const wire::Upload& up : uploads) {
    if (Status s = WriteUpload(job_dir, up); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::string> MakeWorkDir(const std::string& job_dir, const std::string& rel) {
  const std::string what = "work_dir '" + rel + "'";
  if (std::string problem = RelativePathProblem(rel); !problem.empty())
    return Status::Error(what + ": " + problem);
  const std::vector<std::string> parts = Components(rel);
  Result<UniqueFd> dir = OpenDirBeneath(job_dir, parts, what);
  if (!dir.ok()) return dir.status();
  std::string path = job_dir;
  for (const std::string& part : parts) path += "/" + part;
  return path;
}

}  // namespace titan::exec
