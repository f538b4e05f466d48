// PidRegistry: /proc/<pid>/stat parsing, the atomically rewritten registry file, and the startup reaper.
#include "worker/pid_registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "base/unique_fd.h"

namespace titan::exec {
namespace {

constexpr std::string_view kHeader =
    "# titan pid registry v2: '<pgid> <leader start time, ticks after boot>' records a group, "
    "'- <pgid>' forgets it; later lines win";
constexpr size_t kCompactMinLines = 1024;
constexpr auto kPollInterval = std::chrono::milliseconds(20);
constexpr auto kKillWait = std::chrono::seconds(1);

// Calls fn(pid, stat) for each process that is not a zombie, until fn returns false. False when /proc
// cannot be read.
template <typename Fn>
bool ForEachLiveProcess(Fn fn) {
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return false;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    const long pid = std::strtol(entry->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const std::optional<ProcStat> st = ReadProcStat(static_cast<pid_t>(pid));
    if (!st || st->state == 'Z' || st->state == 'X') continue;
    if (!fn(static_cast<pid_t>(pid), *st)) break;
  }
  ::closedir(dir);
  return true;
}

// Which of `pgids` still have a live member: a non-zombie process in the group, or the leader itself
// if it moved to another group (setsid) and is still running.
std::set<pid_t> LiveGroups(const std::set<pid_t>& pgids) {
  std::set<pid_t> live;
  const bool read = ForEachLiveProcess([&](pid_t pid, const ProcStat& st) {
    if (pgids.count(st.pgrp) != 0) live.insert(st.pgrp);
    if (pgids.count(pid) != 0) live.insert(pid);
    return true;
  });
  return read ? live : pgids;  // cannot tell: assume alive, the caller escalates
}

// Whether a live process of group `pgid` started at or after `since` (clock ticks after boot).
bool HasMembersSince(pid_t pgid, uint64_t since) {
  bool found = false;
  ForEachLiveProcess([&](pid_t, const ProcStat& st) {
    found = st.pgrp == pgid && st.start_time >= since;
    return !found;
  });
  return found;
}

// Polls /proc until none of `pgids` has a live member or `limit` passes; returns those still alive.
std::set<pid_t> WaitGone(std::set<pid_t> pgids, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pgids.empty()) {
    pgids = LiveGroups(pgids);
    if (pgids.empty() || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(kPollInterval);  // startup only, before the event loop exists
  }
  return pgids;
}

void SignalGroupAndLeader(pid_t pgid, int sig) {
  ::kill(-pgid, sig);
  ::kill(pgid, sig);  // the leader was verified by start time; it may have left its group
}

}  // namespace

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  char buf[2048];  // comm is at most 15 bytes (64 once escaped), then 50 numeric fields of up to 20 digits
  const ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // "pid (comm) state ppid pgrp ..."; comm may hold spaces and ')', so parse after the last ')'.
  const char* p = strrchr(buf, ')');
  if (p == nullptr) return std::nullopt;
  // Fields are single-space separated: 3 state, 4 ppid, 5 pgrp, ..., 22 starttime, ..., 52 exit_code.
  ProcStat st;
  int field = 2;
  for (++p; field < 52;) {
    while (*p == ' ') ++p;
    const char* start = p;
    while (*p != ' ' && *p != '\0' && *p != '\n') ++p;
    if (p == start) break;
    ++field;
    if (field == 3) st.state = *start;
    if (field == 5) st.pgrp = static_cast<pid_t>(std::strtol(start, nullptr, 10));
    if (field == 22) st.start_time = std::strtoull(start, nullptr, 10);
    if (field == 52) st.exit_code = static_cast<int>(std::strtol(start, nullptr, 10));
  }
  if (field < 22) return std::nullopt;
  return st;
}

namespace {

// The whole file behind `fd`; errno's Status (naming `path`) when a read fails.
Result<std::string> ReadAll(const UniqueFd& fd, const std::string& path) {
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd.get(), buf, sizeof(buf))) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus("cannot read pid registry '" + path + "'", errno);
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

// Applies one log line to `groups`: "PGID START" adds a group, "-PGID" removes one. False when the
// line is neither (the caller skips it).
bool ApplyLine(const std::string& line, std::map<pid_t, uint64_t>* groups) {
  std::istringstream fields(line);
  long pgid = 0;
  uint64_t start = 0;
  std::string rest;
  if (line[0] == '-') {
    fields.ignore(1);
    if (!(fields >> pgid) || (fields >> rest) || pgid <= 1) return false;
    groups->erase(static_cast<pid_t>(pgid));
    return true;
  }
  if (!(fields >> pgid >> start) || (fields >> rest) || pgid <= 1) return false;
  (*groups)[static_cast<pid_t>(pgid)] = start;
  return true;
}

}  // namespace

Result<PidRegistry> PidRegistry::Open(std::string path) {
  PidRegistry registry(std::move(path));
  if (Status s = registry.Load(); !s.ok()) return s;
  // Start each life with a short log. A failure here is not fatal: the next change reports it.
  if (registry.lines_ > registry.groups_.size()) {
    if (Status s = registry.Compact(); !s.ok()) spdlog::warn("pid registry: {}", s.message());
  }
  return registry;
}

Status PidRegistry::Load() {
  UniqueFd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid() && errno == ENOENT) return Status::Ok();
  if (!fd.valid()) return ErrnoStatus("cannot read pid registry '" + path_ + "'", errno);
  Result<std::string> text = ReadAll(fd, path_);
  if (!text.ok()) return text.status();
  std::istringstream lines(*text);
  std::string line;
  size_t entries = 0;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (line.empty() || line[0] == '#') continue;
    if (ApplyLine(line, &groups_)) {
      ++entries;
    } else {
      spdlog::warn("pid registry {}:{}: skipping malformed line '{}'", path_, number, line);
    }
  }
  lines_ = entries;
  return Status::Ok();
}

Result<PidRegistry> PidRegistry::OpenReadOnly(std::string path) {
  PidRegistry registry(std::move(path));
  registry.read_only_ = true;
  if (Status s = registry.Load(); !s.ok()) return s;
  return registry;
}

Status PidRegistry::Add(pid_t pgid, std::optional<uint64_t> start_time) {
  if (start_time) return AddWithStartTime(pgid, *start_time);
  const std::optional<ProcStat> st = ReadProcStat(pgid);
  if (!st) return Status::Error("cannot record process group " + std::to_string(pgid) + ": no such process");
  return AddWithStartTime(pgid, st->start_time);
}

Status PidRegistry::AddWithStartTime(pid_t pgid, uint64_t start_time) {
  groups_[pgid] = start_time;
  return Append(std::to_string(pgid) + ' ' + std::to_string(start_time) + '\n');
}

Status PidRegistry::Remove(pid_t pgid) {
  if (groups_.erase(pgid) == 0) return Status::Ok();
  return Append("- " + std::to_string(pgid) + '\n');
}

// No fsync: the registry must survive a crash of the worker process (the page cache outlives it), not
// of the machine, after which no job process is left to end. One write() per line, on an O_APPEND
// descriptor, so a line is never interleaved or half-written by a process crash.
Status PidRegistry::Append(const std::string& line) {
  if (read_only_) return Status::Ok();
  if (lines_ >= kCompactMinLines && lines_ >= 4 * groups_.size()) {
    // The change is already in groups_, so the compacted file includes it.
    return Compact();
  }
  if (!log_.valid()) {
    log_.Reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!log_.valid()) return ErrnoStatus("cannot open '" + path_ + "'", errno);
    struct stat st {};
    if (::fstat(log_.get(), &st) == 0 && st.st_size == 0) {
      if (Status s = WriteAll(log_.get(), std::string(kHeader) + '\n', "'" + path_ + "'"); !s.ok()) return s;
    }
  }
  if (Status s = WriteAll(log_.get(), line, "'" + path_ + "'"); !s.ok()) return s;
  ++lines_;
  return Status::Ok();
}

Status PidRegistry::Compact() {
  if (read_only_) return Status::Ok();
  std::string text(kHeader);
  text += '\n';
  for (const auto& [pgid, start] : groups_) text += std::to_string(pgid) + ' ' + std::to_string(start) + '\n';
  const std::string tmp = path_ + ".tmp";
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return ErrnoStatus("cannot create '" + tmp + "'", errno);
    if (Status s = WriteAll(fd.get(), text, "'" + tmp + "'"); !s.ok()) return s;
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return ErrnoStatus("cannot rename '" + tmp + "'", errno);
  log_.Reset();
  lines_ = groups_.size();
  return Status::Ok();
}

Result<int> PidRegistry::ReapLeftovers(std::chrono::milliseconds grace) {
  std::set<pid_t> ours;
  for (const auto& [pgid, start] : groups_) {
    const std::optional<ProcStat> leader = ReadProcStat(pgid);
    if (leader && leader->start_time != start) continue;  // the pid now names another process
    // Leader gone: it died with its worker (parent-death signal). A group id is not reused while the
    // group has members, so members that started after the leader are still its group's.
    if (!leader && !HasMembersSince(pgid, start)) continue;
    if (LiveGroups({pgid}).empty()) continue;  // only a zombie leader is left
    spdlog::info("ending process group {} left by a previous worker (SIGTERM)", pgid);
    SignalGroupAndLeader(pgid, SIGTERM);
    ours.insert(pgid);
  }
  std::set<pid_t> stubborn = WaitGone(ours, grace);
  for (pid_t pgid : stubborn) {
    spdlog::warn("process group {} outlived SIGTERM by {} ms: SIGKILL", pgid, grace.count());
    SignalGroupAndLeader(pgid, SIGKILL);
  }
  for (pid_t pgid : WaitGone(stubborn, kKillWait)) {
    spdlog::error("process group {} is still alive after SIGKILL (uninterruptible sleep?)", pgid);
  }
  groups_.clear();
  if (Status s = Compact(); !s.ok()) return s;
  return static_cast<int>(ours.size());
}

std::string PidRegistry::Render() const {
  std::string out;
  for (const auto& [pgid, start] : groups_) {
    if (!out.empty()) out += ' ';
    out += std::to_string(pgid) + '@' + std::to_string(start);
  }
  return out;
}

}  // namespace titan::exec
