// Shared pieces of the Titan benchmarks: spawned titan processes, temp dirs, timing, percentiles,
// RESULT lines, and a minimal msgpack writer/reader so clients pre-encode requests and read `rid`
// without per-message allocations. Benchmarks are programs, not tests: they report, never assert.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace titan::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
inline double MicrosBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::micro>(b - a).count();
}

// A temporary directory under $TITAN_BENCH_DIR (default /tmp), removed with its contents on
// destruction unless $TITAN_BENCH_KEEP is set.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A `titan` child process (the binary from $TITAN_BIN, else <source>/build/bin/titan). stdout is a
// pipe read for the "READY ..." line; stderr goes to `log_path`. The destructor SIGKILLs and reaps.
class TitanProcess {
 public:
  TitanProcess(std::vector<std::string> args, const std::string& log_path);
  ~TitanProcess();
  TitanProcess(const TitanProcess&) = delete;
  TitanProcess& operator=(const TitanProcess&) = delete;

  // Waits for "READY <role> <what>"; returns <what> (an endpoint or a worker name), empty on failure.
  std::string WaitReady(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  // Port of a "tcp://host:port" READY endpoint, 0 if none.
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // Sends `sig` and reaps; returns the wait status (-1 if not running). SIGTERM waits up to
  // `grace` and then SIGKILLs.
  int Stop(int sig, std::chrono::milliseconds grace = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
};

std::string TitanBinary();

// On SIGINT/SIGTERM/SIGHUP, SIGKILLs every TitanProcess still running, then exits 130, so an
// interrupted benchmark leaves no broker, worker or store behind. Call once, early in main.
void KillChildrenOnSignal();

// Percentile (0..100) by nearest rank over unsorted samples; 0 for none.
double Percentile(std::vector<double> samples, double pct);

// One machine-readable result line: "RESULT <bench> k=v k=v ...". Spaces in values become '_'.
class Result {
 public:
  explicit Result(std::string bench);
  Result& Add(std::string_view key, std::string_view value);
  Result& Add(std::string_view key, const char* value) { return Add(key, std::string_view(value)); }
  Result& Add(std::string_view key, int64_t value);
  Result& Add(std::string_view key, int value) { return Add(key, int64_t{value}); }
  Result& Add(std::string_view key, size_t value) { return Add(key, static_cast<int64_t>(value)); }
  Result& Add(std::string_view key, double value);
  void Print() const;  // to stdout, flushed

 private:
  std::string line_;
};

// fdatasync latency of the disk under `dir`, `n` samples each, in microseconds, two ways: appending
// 4 KiB (the file grows: the filesystem journal commits too, as for an append-only log like Redis's
// AOF) and overwriting 4 KiB inside an existing file (data only, as for SQLite's reused WAL).
struct FsyncProbe {
  std::vector<double> append_us, overwrite_us;
};
FsyncProbe ProbeFsync(const std::string& dir, int n);
// Prints it as one RESULT fsync_probe line.
void PrintFsyncProbe(const std::string& dir, const FsyncProbe& p);

// Microseconds per "job workspace" in `dir`: a mkdir plus the creation of one file in it, what a worker
// does for every job. The directories are kept (the caller's temp dir removes them), so the probe
// itself deletes nothing. On ext4 without a journal this cost grows with the inodes deleted in the last
// minutes (each creation skips them), which other runs' clean-ups leave behind.
double ProbeWorkspaceUs(const std::string& dir, int n);

// ---- msgpack, the little a benchmark client needs ----
namespace mp {
void MapHeader(std::string* out, size_t n);
void ArrayHeader(std::string* out, size_t n);
void Str(std::string* out, std::string_view s);
void Bin(std::string* out, std::string_view s);
void Int(std::string* out, int64_t v);  // smallest form
void Bool(std::string* out, bool b);
// uint32 in its fixed 5-byte form (ce xx xx xx xx); returns the offset of the 4 value bytes so the
// caller can patch a request id in place with PatchU32.
size_t FixedU32(std::string* out, uint32_t v);
void PatchU32(std::string* out, size_t at, uint32_t v);
// The int value of key `key` in the top-level map `body`, if present; never throws on bad input.
std::optional<int64_t> FindInt(std::string_view body, std::string_view key);
// The str/bin value of key `key` in the top-level map `body`, if present.
std::optional<std::string_view> FindBytes(std::string_view body, std::string_view key);
}  // namespace mp

// Writes `n` zero-padded decimal digits of `v` at out[at..at+n).
void WriteDigits(std::string* out, size_t at, size_t n, uint64_t v);

// A fast per-thread random source (xorshift64*).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed ? seed : 0x9e3779b97f4a7c15ull) {}
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545f4914f6cdd1dull;
  }

 private:
  uint64_t s_;
};

// "1,50" -> {1, 50}; "put,get" -> {"put", "get"}.
std::vector<std::string> SplitList(const std::string& s);

}  // namespace titan::bench
