// Job cgroups: finding a writable hierarchy (v2, or v1's pids controller), creating a job's cgroup,
// signalling its processes, and the kill-until-empty loop that ends it.
#include "worker/job_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "base/unique_fd.h"

namespace titan::exec {
namespace {

constexpr long kCgroup2Magic = 0x63677270;  // CGROUP2_SUPER_MAGIC
constexpr long kCgroupMagic = 0x27e0eb;     // CGROUP_SUPER_MAGIC (v1)
constexpr auto kKillPoll = std::chrono::milliseconds(1);

long FsType(const std::string& path) {
  struct statfs fs {};
  return ::statfs(path.c_str(), &fs) == 0 ? static_cast<long>(fs.f_type) : 0;
}

// Our own cgroup in the hierarchy whose /proc/self/cgroup line has `controllers` ("" for v2, "pids"
// for v1's pids): "/" when at its root.
std::string OwnCgroup(const std::string& controllers) {
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string list = line.substr(a + 1, b - a - 1);
    if (list == controllers ||
        (!controllers.empty() && ("," + list + ",").find("," + controllers + ",") != std::string::npos))
      return line.substr(b + 1);
  }
  return "/";
}

// The pids in `path`/cgroup.procs; nullopt when the cgroup is gone (or cannot be read).
std::optional<std::vector<pid_t>> Procs(const std::string& path) {
  UniqueFd fd(::open((path + "/cgroup.procs").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    text.append(buf, static_cast<size_t>(n));
  }
  std::vector<pid_t> pids;
  for (size_t at = 0; at < text.size();) {
    char* end = nullptr;
    const long pid = std::strtol(text.c_str() + at, &end, 10);
    if (end == text.c_str() + at) break;
    if (pid > 0) pids.push_back(static_cast<pid_t>(pid));
    at = static_cast<size_t>(end - text.c_str()) + 1;
  }
  return pids;
}

void SignalAll(const std::string& path, int sig) {
  if (auto pids = Procs(path)) {
    for (const pid_t pid : *pids) ::kill(pid, sig);
  }
}

// SIGKILL until the cgroup is empty (a process may fork while we read the list), then rmdir.
Status KillAndRemove(const std::string& path, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const std::optional<std::vector<pid_t>> pids = Procs(path);
    if (!pids) return Status::Ok();  // already removed
    if (pids->empty()) break;
    for (const pid_t pid : *pids) ::kill(pid, SIGKILL);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(std::to_string(pids->size()) + " process(es) still in cgroup '" + path +
                           "' after " + std::to_string(limit.count()) +
                           " ms of SIGKILL (uninterruptible sleep?)");
    }
    std::this_thread::sleep_for(kKillPoll);  // for SIGKILLed processes to leave it
  }
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
    return ErrnoStatus("cannot remove cgroup '" + path + "'", errno);
  return Status::Ok();
}

}  // namespace

std::string WorkerCgroupKey(const std::string& worker_name, const std::string& data_dir) {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (const char c : std::filesystem::absolute(data_dir).lexically_normal().string()) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  }
  std::string key;
  for (const char c : worker_name) {
    key.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_');
  }
  char suffix[20];
  std::snprintf(suffix, sizeof suffix, "-%08x", static_cast<unsigned>(hash ^ (hash >> 32)));
  return key + suffix;
}

Result<std::string> OpenWorkerCgroupDir(const std::string& key, const std::string& mount_root) {
  std::string dir;
  if (FsType(mount_root) == kCgroup2Magic) {
    dir = mount_root + OwnCgroup("") + "/titan-" + key;
  } else if (FsType(mount_root + "/pids") == kCgroupMagic) {
    dir = mount_root + "/pids" + OwnCgroup("pids") + "/titan/" + key;
  } else {
    return Status::Error("no cgroup v2 at " + mount_root + " and no v1 pids hierarchy at " + mount_root +
                         "/pids");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return Status::Error("cannot create cgroup '" + dir + "': " + ec.message() +
                         " (job cgroups need root or a cgroup delegated to this user)");
  }
  if (::access((dir + "/cgroup.procs").c_str(), W_OK) != 0)
    return ErrnoStatus("cannot use cgroup '" + dir + "'", errno);
  return dir;
}

int EndCgroupsUnder(const std::string& dir, bool remove_dir) {
  int busy = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_directory(ec)) continue;
    const std::string path = entry.path().string();
    if (auto pids = Procs(path); pids && !pids->empty()) ++busy;
    (void)KillAndRemove(path, std::chrono::seconds(1));
  }
  if (remove_dir) ::rmdir(dir.c_str());
  return busy;
}

Result<JobCgroup> JobCgroup::Create(std::string path) {
  if (::mkdir(path.c_str(), 0755) != 0) {
    if (errno != EEXIST) return ErrnoStatus("cannot create cgroup '" + path + "'", errno);
    if (Status s = KillAndRemove(path, std::chrono::seconds(1)); !s.ok()) return s;
    if (::mkdir(path.c_str(), 0755) != 0) return ErrnoStatus("cannot create cgroup '" + path + "'", errno);
  }
  return JobCgroup(std::move(path));
}

JobCgroup::JobCgroup(JobCgroup&& other) noexcept : path_(std::exchange(other.path_, {})) {}

JobCgroup& JobCgroup::operator=(JobCgroup&& other) noexcept {
  if (this != &other) {
    (void)End();
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

void JobCgroup::Signal(int sig) const {
  if (!path_.empty()) SignalAll(path_, sig);
}

Status JobCgroup::End(std::chrono::milliseconds limit) {
  if (path_.empty()) return Status::Ok();
  const std::string path = std::exchange(path_, {});
  return KillAndRemove(path, limit);
}

}  // namespace titan::exec
