// Helpers shared by the benchmarks: processes, temp dirs, results, fsync probe (msgpack: bench_msgpack.cc).
#include "tests/bench/bench_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "schemas/cpp/test_paths.h"

extern char** environ;

namespace titan::bench {

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TITAN_BENCH_DIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "bench: cannot create a temp dir from '%s': %s\n", tmpl.c_str(),
                 std::strerror(errno));
    std::exit(2);
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  if (std::getenv("TITAN_BENCH_KEEP") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

namespace {

// Pids of running TitanProcesses, readable from a signal handler.
constexpr int kMaxChildren = 256;
std::atomic<pid_t> g_children[kMaxChildren];

void Track(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t empty = 0;
    if (slot.compare_exchange_strong(empty, pid)) return;
  }
}

void Untrack(pid_t pid) {
  for (auto& slot : g_children) {
    pid_t p = pid;
    if (slot.compare_exchange_strong(p, 0)) return;
  }
}

extern "C" void KillChildrenAndExit(int) {
  for (auto& slot : g_children) {
    const pid_t p = slot.load();
    if (p > 0) kill(p, SIGKILL);
  }
  _exit(130);
}

}  // namespace

void KillChildrenOnSignal() {
  struct sigaction sa = {};
  sa.sa_handler = KillChildrenAndExit;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

std::string TitanBinary() {
  const char* env = std::getenv("TITAN_BIN");
  return env && *env ? env : titan::testing::SourcePath("build/bin/titan");
}

TitanProcess::TitanProcess(std::vector<std::string> args, const std::string& log_path) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  args.insert(args.begin(), TitanBinary());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The child gets default signal handling (it installs its own), not our cleanup handler.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  if (posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  stdout_fd_ = fds[0];
  if (pid_ > 0) Track(pid_);
}

TitanProcess::~TitanProcess() {
  if (pid_ > 0) Stop(SIGKILL);
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

std::string TitanProcess::WaitReady(std::chrono::milliseconds deadline) {
  if (pid_ <= 0) return {};
  const auto until = Clock::now() + deadline;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return {};
    pollfd p{stdout_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) <= 0) return {};
    char buf[256];
    const ssize_t n = read(stdout_fd_, buf, sizeof buf);
    if (n <= 0) return {};
    line.append(buf, static_cast<size_t>(n));
  }
  line.resize(line.find('\n'));
  if (line.rfind("READY ", 0) != 0) return {};
  const std::string what = line.substr(line.rfind(' ') + 1);
  if (what.rfind("tcp://", 0) == 0) port_ = std::atoi(what.substr(what.rfind(':') + 1).c_str());
  return what;
}

int TitanProcess::Stop(int sig, std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  const auto until = Clock::now() + grace;
  for (;;) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno != EINTR)) break;
    if (Clock::now() >= until) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Untrack(pid_);
  pid_ = -1;
  return status;
}

double Percentile(std::vector<double> samples, double pct) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const double rank = std::ceil(pct / 100.0 * static_cast<double>(samples.size()));
  const size_t i = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(samples.size()))) - 1;
  return samples[i];
}

Result::Result(std::string bench) : line_("RESULT " + std::move(bench)) {}

Result& Result::Add(std::string_view key, std::string_view value) {
  line_ += ' ';
  line_ += key;
  line_ += '=';
  for (char c : value) line_ += (c == ' ' || c == '\n') ? '_' : c;  // one token per value
  return *this;
}

Result& Result::Add(std::string_view key, int64_t value) { return Add(key, std::to_string(value)); }

Result& Result::Add(std::string_view key, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", value);
  return Add(key, std::string_view(buf));
}

void Result::Print() const { std::cout << line_ << std::endl; }

FsyncProbe ProbeFsync(const std::string& dir, int n) {
  FsyncProbe out;
  const std::string path = dir + "/fsync-probe";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return out;
  const std::string block(4096, 'x');
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    if (write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || fdatasync(fd) != 0)
      break;
    out.append_us.push_back(MicrosBetween(t0, Clock::now()));
  }
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    const off_t at = static_cast<off_t>(i % 16) * 4096;
    if (pwrite(fd, block.data(), block.size(), at) != static_cast<ssize_t>(block.size()) ||
        fdatasync(fd) != 0)
      break;
    out.overwrite_us.push_back(MicrosBetween(t0, Clock::now()));
  }
  close(fd);
  unlink(path.c_str());
  return out;
}

void PrintFsyncProbe(const std::string& dir, const FsyncProbe& p) {
  Result("fsync_probe")
      .Add("dir", dir)
      .Add("n", p.append_us.size())
      .Add("p50_us", Percentile(p.append_us, 50))
      .Add("p99_us", Percentile(p.append_us, 99))
      .Add("overwrite_p50_us", Percentile(p.overwrite_us, 50))
      .Add("overwrite_p99_us", Percentile(p.overwrite_us, 99))
      .Print();
}

double ProbeWorkspaceUs(const std::string& dir, int n) {
  const std::string base = dir + "/workspace-probe";
  if (mkdir(base.c_str(), 0755) != 0) return 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    const std::string d = base + "/" + std::to_string(i);
    if (mkdir(d.c_str(), 0755) != 0) return 0;
    const int fd = open((d + "/job.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return 0;
    close(fd);
  }
  return static_cast<double>(MicrosBetween(t0, Clock::now())) / n;
}

void WriteDigits(std::string* out, size_t at, size_t n, uint64_t v) {
  for (size_t k = 0; k < n; ++k) {
    (*out)[at + n - 1 - k] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = s.find(',', start);
    const std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace titan::bench
