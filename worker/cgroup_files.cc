// Cgroup limit and counter files, v1 and v2 (see cgroup_files.h).
#include "worker/cgroup_files.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "base/unique_fd.h"

namespace titan::exec {
namespace {

constexpr int64_t kMB = 1024 * 1024;
constexpr int64_t kCfsPeriodUs = 100000;  // 100 ms; a quota of max_cpu% of it

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::optional<int64_t> ReadInt(const std::string& path, CgroupFileCache* cache = nullptr) {
  const std::optional<std::string> text = ReadCgroupFile(path, cache);
  if (!text) return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (...) {
    return std::nullopt;
  }
}

// One write(2) of `value`, as the kernel wants cgroup files written (with `cache`, a pwrite at 0 on the
// descriptor it keeps). Error names file and value.
Status WriteFile(const std::string& path, const std::string& value, CgroupFileCache* cache = nullptr) {
  UniqueFd own;
  const int fd = cache != nullptr
                     ? cache->Fd(path, O_WRONLY)
                     : (own.Reset(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_TRUNC)), own.get());
  if (fd < 0) return ErrnoStatus("cannot open '" + path + "'", errno);
  const ssize_t n = cache != nullptr ? ::pwrite(fd, value.data(), value.size(), 0)
                                     : ::write(fd, value.data(), value.size());
  if (n != static_cast<ssize_t>(value.size()))
    return ErrnoStatus("cannot write '" + value + "' to '" + path + "'", errno);
  return Status::Ok();
}

// "key value" lines (memory.events, cpu.stat, memory.oom_control): the value of `key`.
std::optional<int64_t> KeyedValue(const std::string& path, const std::string& key,
                                  CgroupFileCache* cache = nullptr) {
  const std::optional<std::string> text = ReadCgroupFile(path, cache);
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  for (std::string k; in >> k;) {
    int64_t v = 0;
    if (!(in >> v)) return std::nullopt;
    if (k == key) return v;
  }
  return std::nullopt;
}

std::string DirOf(const CgroupDirs& dirs, const std::string& key) {
  const auto it = dirs.find(key);
  return it == dirs.end() ? "" : it->second;
}

// A limit file under the hierarchy `key`; error when the job has no such hierarchy.
Status WriteLimit(const CgroupDirs& job, const std::string& key, const std::string& file,
                  const std::string& value, const std::string& limit) {
  const std::string dir = DirOf(job, key);
  if (dir.empty()) return Status::Error("cannot enforce " + limit + ": no " + key + " cgroup on this worker");
  return WriteFile(dir + "/" + file, value);
}

// An io limit per device (v1: one file per direction; v2: io.max). A device that refuses it (a virtual
// device without a request queue) is skipped; error when none took it.
Status WriteIoLimit(CgroupVersion v, const CgroupDirs& job, int64_t bps,
                    const std::vector<std::string>& devices) {
  Status last = Status::Ok();
  int applied = 0;
  for (const std::string& dev : devices) {
    const std::string rate = std::to_string(bps);
    Status s =
        v == CgroupVersion::kV2
            ? WriteLimit(job, "", "io.max", dev + " rbps=" + rate + " wbps=" + rate, "max_iobps")
            : WriteLimit(job, "blkio", "blkio.throttle.read_bps_device", dev + " " + rate, "max_iobps");
    if (s.ok() && v == CgroupVersion::kV1)
      s = WriteLimit(job, "blkio", "blkio.throttle.write_bps_device", dev + " " + rate, "max_iobps");
    if (s.ok())
      ++applied;
    else
      last = s;
  }
  if (applied == 0 && !last.ok()) return last;
  return Status::Ok();
}

Status ApplyV1(const CgroupDirs& job, const JobLimits& l, const std::vector<std::string>& devices) {
  if (l.memory_mb > 0) {
    const std::string bytes = std::to_string(l.memory_mb * kMB);
    if (Status s = WriteLimit(job, "memory", "memory.limit_in_bytes", bytes, "max_memory"); !s.ok()) return s;
    // With swap accounting, swap counts too: the job cannot go past its limit by swapping.
    if (const std::string d = DirOf(job, "memory"); Exists(d + "/memory.memsw.limit_in_bytes"))
      (void)WriteFile(d + "/memory.memsw.limit_in_bytes", bytes);
  }
  if (l.cpu_percent > 0) {
    if (Status s = WriteLimit(job, "cpu", "cpu.cfs_period_us", std::to_string(kCfsPeriodUs), "max_cpu");
        !s.ok())
      return s;
    const int64_t quota = l.cpu_percent * kCfsPeriodUs / 100;
    if (Status s = WriteLimit(job, "cpu", "cpu.cfs_quota_us", std::to_string(quota), "max_cpu"); !s.ok())
      return s;
  }
  if (!l.cpus.empty()) {
    if (Status s = WriteLimit(job, "cpuset", "cpuset.cpus", l.cpus, "cpu_cores"); !s.ok()) return s;
  }
  if (l.iobps > 0) {
    if (Status s = WriteIoLimit(CgroupVersion::kV1, job, l.iobps, devices); !s.ok()) return s;
  }
  if (l.processes > 0)
    return WriteLimit(job, "pids", "pids.max", std::to_string(l.processes), "max_processes");
  return Status::Ok();
}

Status ApplyV2(const CgroupDirs& job, const JobLimits& l, const std::vector<std::string>& devices) {
  if (l.memory_mb > 0) {
    if (Status s = WriteLimit(job, "", "memory.max", std::to_string(l.memory_mb * kMB), "max_memory");
        !s.ok())
      return s;
    if (const std::string d = DirOf(job, ""); Exists(d + "/memory.swap.max"))
      (void)WriteFile(d + "/memory.swap.max", "0");
  }
  if (l.cpu_percent > 0) {
    const std::string quota =
        std::to_string(l.cpu_percent * kCfsPeriodUs / 100) + " " + std::to_string(kCfsPeriodUs);
    if (Status s = WriteLimit(job, "", "cpu.max", quota, "max_cpu"); !s.ok()) return s;
  }
  if (!l.cpus.empty()) {
    if (Status s = WriteLimit(job, "", "cpuset.cpus", l.cpus, "cpu_cores"); !s.ok()) return s;
  }
  if (l.iobps > 0) {
    if (Status s = WriteIoLimit(CgroupVersion::kV2, job, l.iobps, devices); !s.ok()) return s;
  }
  if (l.processes > 0) return WriteLimit(job, "", "pids.max", std::to_string(l.processes), "max_processes");
  return Status::Ok();
}

// blkio.throttle.io_service_bytes: "MAJ:MIN Read N" / "MAJ:MIN Write N" lines (and a Total).
void ReadV1Io(const std::string& path, CgroupUsage* u, CgroupFileCache* cache) {
  const std::optional<std::string> text = ReadCgroupFile(path, cache);
  if (!text) return;
  int64_t read = 0, write = 0;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string dev, op;
    int64_t n = 0;
    if (!(fields >> dev >> op >> n)) continue;
    if (op == "Read") read += n;
    if (op == "Write") write += n;
  }
  u->io_read_bytes = read;
  u->io_write_bytes = write;
}

// io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N ..." lines.
void ReadV2Io(const std::string& path, CgroupUsage* u) {
  const std::optional<std::string> text = ReadCgroupFile(path);
  if (!text) return;
  int64_t read = 0, write = 0;
  std::istringstream in(*text);
  for (std::string word; in >> word;) {
    const size_t eq = word.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = word.substr(0, eq);
    try {
      if (key == "rbytes") read += std::stoll(word.substr(eq + 1));
      if (key == "wbytes") write += std::stoll(word.substr(eq + 1));
    } catch (...) {
    }
  }
  u->io_read_bytes = read;
  u->io_write_bytes = write;
}

}  // namespace

std::vector<std::string> ControlsOf(CgroupVersion v, const CgroupDirs& dirs) {
  std::vector<std::string> controls;
  if (v == CgroupVersion::kV2) {
    const std::string enabled =
        " " + Trim(ReadCgroupFile(DirOf(dirs, "") + "/cgroup.subtree_control").value_or("")) + " ";
    for (const char* c : kControls) {
      if (enabled.find(std::string(" ") + c + " ") != std::string::npos) controls.push_back(c);
    }
    return controls;
  }
  const std::pair<const char*, const char*> files[] = {{"memory", "memory/memory.limit_in_bytes"},
                                                       {"cpu", "cpu/cpu.cfs_quota_us"},
                                                       {"cpuset", "cpuset/cpuset.cpus"},
                                                       {"io", "blkio/blkio.throttle.read_bps_device"},
                                                       {"pids", "pids/pids.max"}};
  for (const auto& [control, file] : files) {
    const std::string f = file, key = f.substr(0, f.find('/'));
    if (const std::string dir = DirOf(dirs, key); !dir.empty() && Exists(dir + f.substr(f.find('/'))))
      controls.push_back(control);
  }
  return controls;
}

void EnableV2Controllers(const std::string& dir) {
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  for (const char* c : kControls) {
    const std::string word = std::string(" ") + c + " ";
    const std::string mine = " " + Trim(ReadCgroupFile(dir + "/cgroup.controllers").value_or("")) + " ";
    if (mine.find(word) == std::string::npos)
      (void)WriteFile(parent + "/cgroup.subtree_control", std::string("+") + c);
    (void)WriteFile(dir + "/cgroup.subtree_control", std::string("+") + c);
  }
}

Status InheritCpuset(const std::string& dir) {
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
    const std::string mine = dir + "/" + file;
    if (!Trim(ReadCgroupFile(mine).value_or("")).empty()) continue;
    const std::optional<std::string> value = ReadCgroupFile(parent + "/" + file);
    if (!value) return ErrnoStatus("cannot read '" + parent + "/" + file + "'", errno);
    if (Status s = WriteFile(mine, Trim(*value)); !s.ok()) return s;
  }
  return Status::Ok();
}

Status ApplyLimits(CgroupVersion v, const CgroupDirs& job, const JobLimits& limits,
                   const std::vector<std::string>& devices) {
  return v == CgroupVersion::kV2 ? ApplyV2(job, limits, devices) : ApplyV1(job, limits, devices);
}

CgroupUsage ReadUsage(CgroupVersion v, const CgroupDirs& job, CgroupFileCache* cache) {
  CgroupUsage u;
  if (v == CgroupVersion::kV2) {
    const std::string d = DirOf(job, "");
    u.peak_memory_bytes = ReadInt(d + "/memory.peak");
    if (auto us = KeyedValue(d + "/cpu.stat", "usage_usec")) u.cpu_ms = *us / 1000;
    ReadV2Io(d + "/io.stat", &u);
    u.oom_kills = KeyedValue(d + "/memory.events", "oom_kill").value_or(0);
    return u;
  }
  if (const std::string d = DirOf(job, "memory"); !d.empty()) {
    u.peak_memory_bytes = ReadInt(d + "/memory.max_usage_in_bytes", cache);
    u.oom_kills = KeyedValue(d + "/memory.oom_control", "oom_kill", cache).value_or(0);
  }
  if (const std::string d = DirOf(job, "cpuacct"); !d.empty()) {
    if (auto ns = ReadInt(d + "/cpuacct.usage", cache)) u.cpu_ms = *ns / 1000000;
  }
  if (const std::string d = DirOf(job, "blkio"); !d.empty())
    ReadV1Io(d + "/blkio.throttle.io_service_bytes", &u, cache);
  return u;
}

int CgroupFileCache::Fd(const std::string& path, int flags) {
  auto [it, added] = fds_.try_emplace({path, flags});
  if (added || !it->second.valid()) it->second.Reset(::open(path.c_str(), flags | O_CLOEXEC));
  return it->second.get();
}

namespace {

// All of `fd`'s text, read from where it stands; nullopt on a read error.
std::optional<std::string> ReadAll(int fd) {
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

}  // namespace

std::optional<std::string> ReadCgroupFile(const std::string& path, CgroupFileCache* cache) {
  if (cache == nullptr) {
    const UniqueFd own(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!own.valid()) return std::nullopt;
    return ReadAll(own.get());
  }
  const int fd = cache->Fd(path, O_RDONLY);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(text.size()))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    text.append(buf, static_cast<size_t>(n));
    if (static_cast<size_t>(n) < sizeof buf) break;  // the whole text: one read made it
  }
  return text;
}

std::optional<std::string> ReadProcessList(const std::string& cgroup, CgroupFileCache* cache) {
  const int dir = cache != nullptr ? cache->Fd(cgroup, O_PATH | O_DIRECTORY) : -1;
  const UniqueFd fd(dir >= 0 ? ::openat(dir, "cgroup.procs", O_RDONLY | O_CLOEXEC)
                             : ::open((cgroup + "/cgroup.procs").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  return ReadAll(fd.get());
}

Result<CarriedUsage> ResetUsage(CgroupVersion v, const CgroupDirs& job, CgroupFileCache* cache) {
  if (v != CgroupVersion::kV1) return Status::Error("cgroup v2 counters (cpu.stat, io.stat) cannot be reset");
  CarriedUsage carried;
  if (const std::string d = DirOf(job, "memory"); !d.empty()) {
    const std::optional<int64_t> charged = ReadInt(d + "/memory.usage_in_bytes", cache);
    if (!charged) return Status::Error("cannot read '" + d + "/memory.usage_in_bytes'");
    carried.memory_bytes = *charged;
    if (Status s = WriteFile(d + "/memory.max_usage_in_bytes", "0", cache); !s.ok()) return s;
    carried.oom_kills = KeyedValue(d + "/memory.oom_control", "oom_kill", cache).value_or(0);
  }
  if (const std::string d = DirOf(job, "cpuacct"); !d.empty()) {
    if (Status s = WriteFile(d + "/cpuacct.usage", "0", cache); !s.ok()) return s;
  }
  if (const std::string d = DirOf(job, "blkio"); !d.empty()) {
    if (Status s = WriteFile(d + "/blkio.reset_stats", "1", cache); !s.ok()) return s;
  }
  return carried;
}

std::vector<std::string> BlockDevices(const std::string& sys_block) {
  std::vector<std::string> devices;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(sys_block, ec)) {
    const std::string dev = Trim(ReadCgroupFile(entry.path().string() + "/dev").value_or(""));
    if (!dev.empty()) devices.push_back(dev);
  }
  std::sort(devices.begin(), devices.end());
  return devices;
}

}  // namespace titan::exec
