// Volume directories, their tmpfs mounts and their links into job directories.
#include "worker/volumes.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/volume_mount.h"
#include "worker/job_files.h"

namespace titan::exec {
namespace {

namespace fs = std::filesystem;

// Whether `dir` is a mount point (its device differs from its parent's).
bool IsMountPoint(const std::string& dir) {
  struct stat here {
  }, parent{};
  return ::stat(dir.c_str(), &here) == 0 && ::stat((dir + "/..").c_str(), &parent) == 0 &&
         here.st_dev != parent.st_dev;
}

}  // namespace

Result<std::string> EnsureVolume(const std::string& volumes_dir, const wire::VolumeSpec& v) {
  if (Status s = CheckVolumeName(v.name); !s.ok()) return s;
  const std::string dir = volumes_dir + "/" + v.name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::Error("cannot create volume '" + v.name + "' at " + dir + ": " + ec.message());
  if (v.type != "memory" || v.size_bytes.value_or(0) <= 0 || IsMountPoint(dir)) return std::string();
  if (::geteuid() != 0)
    return std::string("memory volume '" + v.name +
                       "' is a plain directory: only a worker running as root mounts "
                       "a tmpfs, so its size is not enforced");
  const std::string options = "size=" + std::to_string(*v.size_bytes) + ",mode=0755";
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    return std::string("memory volume '" + v.name + "' is a plain directory: mounting a tmpfs failed (" +
                       std::strerror(errno) + "), so its size is not enforced");
  }
  return std::string();
}

Status DeleteVolume(const std::string& volumes_dir, const std::string& name) {
  if (Status s = CheckVolumeName(name); !s.ok()) return s;
  const std::string dir = volumes_dir + "/" + name;
  if (IsMountPoint(dir) && ::umount2(dir.c_str(), MNT_DETACH) != 0)
    return ErrnoStatus("cannot unmount volume '" + name + "' at " + dir, errno);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Status::Error("cannot delete volume '" + name + "' at " + dir + ": " + ec.message());
  return Status::Ok();
}

Status AttachVolumes(const std::string& job_dir, const std::string& volumes_dir,
                     const std::vector<std::string>& mounts, std::vector<std::string>* env) {
  for (const std::string& entry : mounts) {
    Result<VolumeMount> m = ParseVolumeMount(entry);
    if (!m.ok()) return m.status();
    const std::string dir = volumes_dir + "/" + m->name;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::Error("volume '" + m->name + "': cannot use " + dir + ": " + ec.message());
    env->push_back(VolumeEnvName(m->name) + "=" + dir);
    const fs::path link(m->link);
    std::string parent = job_dir;
    if (link.has_parent_path()) {
      Result<std::string> made = MakeWorkDir(job_dir, link.parent_path().string());
      if (!made.ok()) return Status::Error("volume '" + m->name + "' at " + m->path + ": " + made.message());
      parent = *made;
    }
    const std::string at = parent + "/" + link.filename().string();
    struct stat st {};
    if (::lstat(at.c_str(), &st) == 0) {
      if (!S_ISLNK(st.st_mode))
        return Status::Error("volume '" + m->name + "': cannot link it at " + m->path +
                             ": the job directory has a file or directory of that name (an upload?)");
      ::unlink(at.c_str());
    }
    if (::symlink(dir.c_str(), at.c_str()) != 0)
      return ErrnoStatus("volume '" + m->name + "': cannot link it at " + at, errno);
  }
  return Status::Ok();
}

}  // namespace titan::exec
