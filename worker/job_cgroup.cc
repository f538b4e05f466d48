// Job cgroups: finding the writable hierarchies (v2, or v1's controllers), creating a job's cgroups with
// its limits, signalling its processes, and the kill-until-empty loop that ends them.
#include "worker/job_cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

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

// The pids in `path`/cgroup.procs (ReadProcessList, through `files` when given); nullopt when the cgroup
// is gone (or cannot be read).
std::optional<std::vector<pid_t>> Procs(const std::string& path, CgroupFileCache* files = nullptr) {
  const std::optional<std::string> read = ReadProcessList(path, files);
  if (!read) return std::nullopt;
  const std::string& text = *read;
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

void SignalAll(const std::string& path, int sig, CgroupFileCache* files = nullptr) {
  if (auto pids = Procs(path, files)) {
    for (const pid_t pid : *pids) ::kill(pid, sig);
  }
}

// SIGKILL until the cgroup is empty (a process may fork while we read the list). Ok also when the cgroup
// is gone.
Status KillUntilEmpty(const std::string& path, std::chrono::milliseconds limit,
                      CgroupFileCache* files = nullptr) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const std::optional<std::vector<pid_t>> pids = Procs(path, files);
    if (!pids || pids->empty()) return Status::Ok();
    for (const pid_t pid : *pids) ::kill(pid, SIGKILL);
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(std::to_string(pids->size()) + " process(es) still in cgroup '" + path +
                           "' after " + std::to_string(limit.count()) +
                           " ms of SIGKILL (uninterruptible sleep?)");
    }
    std::this_thread::sleep_for(kKillPoll);  // for SIGKILLed processes to leave it
  }
}

// KillUntilEmpty, then rmdir.
Status KillAndRemove(const std::string& path, std::chrono::milliseconds limit) {
  if (Status s = KillUntilEmpty(path, limit); !s.ok()) return s;
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

namespace {

// The v1 hierarchies a worker uses, the one whose process list is used first (the primary): every job
// joins it.
constexpr const char* kV1Hierarchies[] = {"memory", "pids", "cpu", "cpuacct", "cpuset", "blkio"};

// mkdir -p of `rel` under the existing `base`, giving each new cpuset level its parent's cpus and mems.
Status MakeLevels(const std::string& base, const std::string& rel, bool cpuset) {
  std::string dir = base;
  for (const auto& part : std::filesystem::path(rel)) {
    if (part.empty() || part == "/") continue;
    dir += "/" + part.string();
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoStatus(
          "cannot create cgroup '" + dir + "' (job cgroups need root or a cgroup delegated to this user)",
          errno);
    if (cpuset) {
      if (Status s = InheritCpuset(dir); !s.ok()) return s;
    }
  }
  if (::access((dir + "/cgroup.procs").c_str(), W_OK) != 0)
    return ErrnoStatus("cannot use cgroup '" + dir + "'", errno);
  return Status::Ok();
}

Result<WorkerCgroups> OpenV2(const std::string& key, const std::string& mount_root) {
  WorkerCgroups w{.version = CgroupVersion::kV2, .primary = ""};
  const std::string own = OwnCgroup("");
  if (Status s = MakeLevels(mount_root, own + "/titan-" + key, false); !s.ok()) return s;
  const std::string dir = mount_root + (own == "/" ? "" : own) + "/titan-" + key;
  EnableV2Controllers(dir);
  w.dirs[""] = dir;
  return w;
}

Result<WorkerCgroups> OpenV1(const std::string& key, const std::string& mount_root) {
  WorkerCgroups w{.version = CgroupVersion::kV1};
  std::string errors;
  for (const char* h : kV1Hierarchies) {
    const std::string root = mount_root + "/" + h;
    if (FsType(root) != kCgroupMagic) continue;
    const std::string own = OwnCgroup(h);
    const std::string rel = (own == "/" ? "" : own) + "/titan/" + key;
    if (Status s = MakeLevels(root, rel, std::string(h) == "cpuset"); !s.ok()) {
      errors += (errors.empty() ? "" : "; ") + s.message();
      continue;
    }
    w.dirs[h] = root + rel;
    if (w.primary.empty()) w.primary = h;
  }
  if (w.dirs.empty()) {
    return Status::Error(errors.empty()
                             ? "no cgroup v2 at " + mount_root + " and no v1 hierarchy under " + mount_root
                             : errors);
  }
  return w;
}

}  // namespace

std::vector<std::string> WorkerCgroups::Unique() const {
  if (!unique.empty()) return unique;
  std::vector<std::string> out;
  std::vector<std::filesystem::path> seen;
  auto add = [&](const std::string& dir) {
    std::error_code ec;
    const std::filesystem::path real = std::filesystem::weakly_canonical(dir, ec);
    if (std::find(seen.begin(), seen.end(), real) != seen.end()) return;
    seen.push_back(real);
    out.push_back(dir);
  };
  if (auto it = dirs.find(primary); it != dirs.end()) add(it->second);
  for (const auto& [key, dir] : dirs) add(dir);
  return out;
}

Result<WorkerCgroups> OpenWorkerCgroups(const std::string& key, const std::string& mount_root) {
  Result<WorkerCgroups> w =
      FsType(mount_root) == kCgroup2Magic ? OpenV2(key, mount_root) : OpenV1(key, mount_root);
  if (w.ok()) {
    w->devices = BlockDevices();
    for (auto& [key, dir] : w->dirs) {  // resolved once: co-mounted hierarchies then name one directory
      std::error_code ec;
      const std::filesystem::path real = std::filesystem::weakly_canonical(dir, ec);
      if (!ec) dir = real.string();
    }
    w->unique = w->Unique();
  }
  return w;
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

std::vector<std::string> JobHierarchies(const WorkerCgroups& worker, const JobLimits& limits) {
  if (worker.version == CgroupVersion::kV2) return {""};
  std::vector<std::string> keys;
  auto add = [&](const std::string& key, bool needed) {
    if (needed && worker.dirs.count(key) && std::find(keys.begin(), keys.end(), key) == keys.end())
      keys.push_back(key);
  };
  add(worker.primary, true);
  add("cpuacct", true);
  add("blkio", true);
  add("memory", limits.memory_mb > 0);
  add("pids", limits.processes > 0);
  add("cpu", limits.cpu_percent > 0);
  add("cpuset", !limits.cpus.empty());
  return keys;
}

Result<JobCgroup> JobCgroup::Create(const WorkerCgroups& worker, const std::string& name,
                                    const JobLimits& limits, CgroupPool* pool) {
  if (pool != nullptr && pool->Fits(limits)) {
    if (std::optional<IdleCgroup> idle = pool->Take()) {
      JobCgroup job;
      job.version_ = worker.version;
      job.paths_ = std::move(idle->paths);
      job.dirs_ = std::move(idle->dirs);
      job.path_ = job.paths_.empty() ? "" : job.paths_.front();
      job.pool_ = pool;
      job.oom_kills_before_ = idle->oom_kills_before;
      job.files_ = std::move(idle->files);
      return job;
    }
    Result<JobCgroup> fresh = Create(worker, pool->NewName(), limits);
    if (fresh.ok()) {
      fresh->pool_ = pool;
      fresh->files_ = std::make_unique<CgroupFileCache>();
    }
    return fresh;
  }
  JobCgroup job;
  job.version_ = worker.version;
  for (const std::string& key : JobHierarchies(worker, limits)) {
    const std::string dir = worker.dirs.at(key) + "/" + name;
    job.dirs_[key] = dir;
    // Hierarchies mounted together share one directory (OpenWorkerCgroups resolved their links).
    if (std::find(job.paths_.begin(), job.paths_.end(), dir) != job.paths_.end()) continue;
    Result<JobCgroup> one = Create(dir);
    if (!one.ok()) return one.status();  // `job` ends (removes) those made so far
    job.paths_.push_back(std::exchange(one->path_, {}));
    one->paths_.clear();
  }
  job.path_ = job.paths_.empty() ? "" : job.paths_.front();
  if (job.dirs_.count("cpuset")) {
    if (Status s = InheritCpuset(job.dirs_["cpuset"]); !s.ok()) return s;
  }
  if (Status s = ApplyLimits(worker.version, job.dirs_, limits, worker.devices); !s.ok()) return s;
  return job;
}

JobCgroup::JobCgroup(JobCgroup&& other) noexcept
    : path_(std::exchange(other.path_, {})),
      paths_(std::exchange(other.paths_, {})),
      version_(other.version_),
      dirs_(std::exchange(other.dirs_, {})),
      pool_(std::exchange(other.pool_, nullptr)),
      oom_kills_before_(other.oom_kills_before_),
      files_(std::move(other.files_)) {}

JobCgroup& JobCgroup::operator=(JobCgroup&& other) noexcept {
  if (this != &other) {
    (void)End();
    path_ = std::exchange(other.path_, {});
    paths_ = std::exchange(other.paths_, {});
    version_ = other.version_;
    dirs_ = std::exchange(other.dirs_, {});
    pool_ = std::exchange(other.pool_, nullptr);
    oom_kills_before_ = other.oom_kills_before_;
    files_ = std::move(other.files_);
  }
  return *this;
}

CgroupUsage JobCgroup::Usage() const {
  CgroupUsage u = ReadUsage(version_, dirs_, files_.get());
  u.oom_kills = std::max<int64_t>(0, u.oom_kills - oom_kills_before_);
  return u;
}

std::vector<int> JobCgroup::ProcsFds() {
  std::vector<int> fds;
  if (files_ == nullptr) return fds;
  for (const std::string& path : paths_) {
    const int fd = files_->Fd(path + "/cgroup.procs", O_WRONLY);
    if (fd < 0) return {};
    fds.push_back(fd);
  }
  return fds;
}

void JobCgroup::Signal(int sig) const {
  if (!path_.empty()) SignalAll(path_, sig, files_.get());
}

// The primary cgroup is emptied first; a process is in every hierarchy's cgroup of the job, so the
// others are empty then (each is still checked) and removed.
Status JobCgroup::End(std::chrono::milliseconds limit) {
  path_.clear();
  if (CgroupPool* pool = std::exchange(pool_, nullptr)) {
    Status emptied = Status::Ok();
    for (const std::string& path : paths_) {
      if (emptied.ok()) emptied = KillUntilEmpty(path, limit, files_.get());
    }
    if (emptied.ok() && !paths_.empty() &&
        pool->Keep(IdleCgroup{.paths = paths_, .dirs = dirs_, .files = std::move(files_)})) {
      paths_.clear();
      dirs_.clear();
      return Status::Ok();
    }
  }
  files_.reset();  // before the rmdir: an open file of it would not stop it, but nothing needs it now
  dirs_.clear();
  Status first = Status::Ok();
  for (const std::string& path : std::exchange(paths_, {})) {
    Status s = KillAndRemove(path, limit);
    if (first.ok() && !s.ok()) first = s;
  }
  return first;
}

}  // namespace titan::exec
