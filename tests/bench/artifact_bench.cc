// artifact_bench: MB/s of `titan upload` and `titan artifacts get` of one file against a local broker,
// beside a raw loopback TCP copy of the same bytes measured in the same run (file -> socket -> file,
// fsynced, like the broker's commit and the CLI's download), and the peak RSS of the CLI and of the
// broker, for several file sizes (RSS should not grow with the size). Reports, never asserts.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench/bench_util.h"

extern char** environ;

namespace titan::bench {
namespace {

constexpr size_t kIoBytes = 1 << 20;

struct Options {
  std::vector<std::string> sizes_mib = {"256", "1024"};
  int reps = 3;
};

void Die(const std::string& what) {
  std::fprintf(stderr, "artifact_bench: %s\n", what.c_str());
  std::exit(2);
}

// `bytes` pseudo-random bytes (incompressible), written 1 MiB at a time.
void MakeFile(const std::string& path, int64_t bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) Die("cannot create " + path + ": " + std::strerror(errno));
  Rng rng(0x5eed);
  std::string buf(kIoBytes, '\0');
  for (int64_t done = 0; done < bytes;) {
    for (size_t i = 0; i + 8 <= buf.size(); i += 8) {
      const uint64_t v = rng.Next();
      std::memcpy(&buf[i], &v, 8);
    }
    const auto n = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(buf.size()), bytes - done));
    if (std::fwrite(buf.data(), 1, n, f) != n) Die("cannot write " + path);
    done += static_cast<int64_t>(n);
  }
  std::fclose(f);
}

// ---- the reference: a minimal loopback TCP sender and receiver ----

bool SendAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

bool WriteAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Copies `src` over loopback TCP: the sender read()s the file 1 MiB at a time and send()s it; the
// receiver recv()s into 1 MiB and, when `dst` is not empty, write()s to `dst` and fsyncs it at the end
// (otherwise it discards the bytes). Returns the seconds from connect to the receiver's last byte
// handled, or -1.
double RawCopy(const std::string& src, const std::string& dst, int64_t expect) {
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 1) != 0 ||
      ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Die(std::string("raw copy: cannot listen: ") + std::strerror(errno));
  }
  int64_t received = 0;
  bool receiver_ok = true;
  std::thread receiver([&] {
    const int cfd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    const int out = dst.empty() ? -1 : ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    std::vector<char> buf(kIoBytes);
    for (;;) {
      const ssize_t n = ::recv(cfd, buf.data(), buf.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      received += n;
      if (out >= 0 && !WriteAll(out, buf.data(), static_cast<size_t>(n))) receiver_ok = false;
    }
    if (out >= 0) {
      receiver_ok = receiver_ok && ::fsync(out) == 0;
      ::close(out);
    }
    ::close(cfd);
  });
  const Clock::time_point start = Clock::now();
  const int sfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  bool sender_ok = ::connect(sfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && in >= 0;
  std::vector<char> buf(kIoBytes);
  while (sender_ok) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sender_ok = SendAll(sfd, buf.data(), static_cast<size_t>(n));
  }
  ::shutdown(sfd, SHUT_WR);
  receiver.join();
  const double seconds = SecondsBetween(start, Clock::now());
  ::close(sfd);
  if (in >= 0) ::close(in);
  ::close(lfd);
  return sender_ok && receiver_ok && received == expect ? seconds : -1;
}

// ---- the CLI, and what the broker used ----

struct CliRun {
  int exit_code = -1;
  double seconds = 0;
  int64_t max_rss_kib = 0;  // the child's peak RSS (getrusage of the reaped child)
  std::string out;
};

// Runs `titan ARGS...` to the end; stdout captured, stderr appended to `log`.
CliRun RunCli(std::vector<std::string> args, const std::string& log) {
  CliRun r;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return r;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  args.insert(args.begin(), TitanBinary());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const Clock::time_point start = Clock::now();
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  char buf[4096];
  for (ssize_t n; spawned == 0 && (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n > 0) r.out.append(buf, static_cast<size_t>(n));
    if (n < 0 && errno != EINTR) break;
  }
  close(fds[0]);
  if (spawned != 0) return r;
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  r.seconds = SecondsBetween(start, Clock::now());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.max_rss_kib = ru.ru_maxrss;
  return r;
}

// The "NNN MB/s" at the end of the CLI's summary line (its transfer phase, hashing excluded); 0 if absent.
double SummaryRate(const std::string& out) {
  const size_t comma = out.rfind(", ");
  return comma == std::string::npos ? 0 : std::atof(out.c_str() + comma + 2);
}

// A /proc/<pid>/status field in KiB ("VmHWM", "VmRSS"); -1 when unreadable.
int64_t StatusKib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

// Resets the process's VmHWM to its current RSS (Linux >= 4.0), so the next reading is this phase's peak.
void ResetPeak(pid_t pid) { std::ofstream("/proc/" + std::to_string(pid) + "/clear_refs") << "5"; }

// Touches `bytes` of fresh anonymous memory and frees it again. On this kind of VM, memory the kernel
// has not used for a while is slow to take (the host backs it lazily: ~300 MB/s of page-cache writes
// instead of GB/s), so whichever copy ran first would pay for it. Warming before every measured copy
// gives the raw reference and Titan the same conditions.
void WarmFreeMemory(int64_t bytes) {
  void* p =
      ::mmap(nullptr, static_cast<size_t>(bytes), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  std::memset(p, 1, static_cast<size_t>(bytes));
  ::munmap(p, static_cast<size_t>(bytes));
  // A spawned child (vfork-style) records our peak RSS as its own at exec: take this one back.
  std::ofstream("/proc/self/clear_refs") << "5";
}

double MbPerS(int64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0;
}

void Measure(const std::string& dir, TitanProcess& broker, int64_t mib, int rep) {
  const int64_t bytes = mib << 20;
  const std::string src = dir + "/src-" + std::to_string(mib) + ".bin";
  if (!std::filesystem::exists(src)) MakeFile(src, bytes);
  const std::string port = std::to_string(broker.port()), log = dir + "/cli.log";
  const std::string name = "bench-" + std::to_string(mib) + ".bin";

  const int64_t warm = bytes + (int64_t{256} << 20);
  WarmFreeMemory(warm);
  const double raw_file = RawCopy(src, dir + "/raw.bin", bytes);
  std::filesystem::remove(dir + "/raw.bin");
  const double raw_mem = RawCopy(src, "", bytes);
  Result("artifact_bench")
      .Add("case", "raw_tcp")
      .Add("size_mib", mib)
      .Add("file_mb_s", MbPerS(bytes, raw_file))
      .Add("mem_mb_s", MbPerS(bytes, raw_mem))
      .Add("rep", rep)
      .Print();

  WarmFreeMemory(warm);
  ResetPeak(broker.pid());
  const CliRun up = RunCli({"--port", port, "upload", src, "--name", name, "--quiet"}, log);
  const int64_t broker_up_kib = StatusKib(broker.pid(), "VmHWM");
  Result("artifact_bench")
      .Add("case", "upload")
      .Add("size_mib", mib)
      .Add("ok", up.exit_code == 0 ? "yes" : "no")
      .Add("mb_s", MbPerS(bytes, up.seconds))
      .Add("transfer_mb_s", SummaryRate(up.out))
      .Add("cli_rss_kib", up.max_rss_kib)
      .Add("broker_rss_kib", broker_up_kib)
      .Add("rep", rep)
      .Print();

  const std::string out = dir + "/got.bin";
  WarmFreeMemory(warm);
  ResetPeak(broker.pid());
  const CliRun down = RunCli({"--port", port, "artifacts", "get", name, "-o", out, "--quiet"}, log);
  const int64_t broker_down_kib = StatusKib(broker.pid(), "VmHWM");
  const bool same_size =
      std::filesystem::exists(out) && std::filesystem::file_size(out) == static_cast<uint64_t>(bytes);
  std::filesystem::remove(out);
  Result("artifact_bench")
      .Add("case", "download")
      .Add("size_mib", mib)
      .Add("ok", down.exit_code == 0 && same_size ? "yes" : "no")
      .Add("mb_s", MbPerS(bytes, down.seconds))
      .Add("transfer_mb_s", SummaryRate(down.out))
      .Add("cli_rss_kib", down.max_rss_kib)
      .Add("broker_rss_kib", broker_down_kib)
      .Add("rep", rep)
      .Print();
}

int Main(const Options& o) {
  TempDir dir("titan-bench-artifacts");
  TitanProcess broker(
      {"broker", "--port", "0", "--worker-port", "0", "--pub-port", "0", "--dir", dir.path() + "/broker"},
      dir.path() + "/broker.log");
  if (broker.WaitReady().empty() || broker.port() <= 0) Die("the broker did not start (see its log)");
  Result("artifact_bench")
      .Add("case", "broker_idle")
      .Add("broker_rss_kib", StatusKib(broker.pid(), "VmRSS"))
      .Print();
  for (int rep = 1; rep <= o.reps; ++rep) {
    for (const std::string& s : o.sizes_mib) Measure(dir.path(), broker, std::atoll(s.c_str()), rep);
  }
  return 0;
}

}  // namespace
}  // namespace titan::bench

int main(int argc, char** argv) {
  titan::bench::Options o;
  std::string sizes = "256,1024";
  CLI::App app{"Artifact transfer benchmark: titan upload / artifacts get vs a raw loopback TCP copy"};
  app.add_option("--sizes-mib", sizes, "file sizes in MiB")->capture_default_str();
  app.add_option("--reps", o.reps, "rounds (raw copy, upload, download for each size)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  titan::bench::KillChildrenOnSignal();
  o.sizes_mib = titan::bench::SplitList(sizes);
  return titan::bench::Main(o);
}
