// Capacity detection: sysconf, /proc/meminfo, nvidia-smi -L or /dev/nvidia<N>.
#include "worker/capacity.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>

#include "worker/child_process.h"

namespace titan::worker {
namespace {

constexpr int kNvidiaSmiLimitMs = 5000;  // nvidia-smi -L at start: longer, and GPUs come from /dev

// The output of `argv` when it exits 0 within `limit_ms`; nullopt otherwise (it is killed then).
std::optional<std::string> RunBriefly(const std::vector<std::string>& argv,
                                      const std::vector<std::string>& env, int limit_ms) {
  Result<exec::ChildProcess> child =
      exec::ChildProcess::Spawn({.argv = argv, .env = env, .merge_stderr = true});
  if (!child.ok()) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
  std::string out;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || out.size() > (1 << 20)) return std::nullopt;  // the handle kills it
    pollfd fd{.fd = child->stdout_fd(), .events = POLLIN, .revents = 0};
    if (poll(&fd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = read(child->stdout_fd(), buf, sizeof buf);
    if (n == 0) break;  // EOF
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  for (;;) {  // closed its output: it is exiting
    if (const std::optional<exec::ExitStatus> st = child->TryReap()) {
      return st->success() ? std::optional(out) : std::nullopt;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd fd{.fd = child->exit_fd(), .events = POLLIN, .revents = 0};
    if (fd.fd < 0) {
      usleep(10'000);
    } else {
      poll(&fd, 1, static_cast<int>(left.count()));
    }
  }
}

std::vector<int64_t> DetectGpus(const std::vector<std::string>& env) {
  if (Result<std::string> smi = exec::FindProgram("nvidia-smi", env, ""); smi.ok()) {
    if (std::optional<std::string> out = RunBriefly({*smi, "-L"}, env, kNvidiaSmiLimitMs)) {
      return ParseNvidiaSmiList(*out);
    }
    spdlog::warn("worker: `{} -L` failed or took over {} ms; looking for GPUs in /dev", *smi,
                 kNvidiaSmiLimitMs);
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/dev", ec))
    names.push_back(entry.path().filename());
  return GpuIndicesOfDevices(names);
}

}  // namespace

std::vector<int64_t> ParseNvidiaSmiList(std::string_view text) {
  static const std::regex kLine(R"(^GPU (\d+):)");
  std::vector<int64_t> out;
  std::istringstream in{std::string(text)};
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, kLine) && m[1].length() < 7) out.push_back(std::stoll(m[1]));
  }
  return out;
}

std::vector<int64_t> GpuIndicesOfDevices(const std::vector<std::string>& names) {
  static const std::regex kDevice(R"(^nvidia(\d{1,6})$)");
  std::vector<int64_t> out;
  std::smatch m;
  for (const std::string& name : names) {
    if (std::regex_match(name, m, kDevice)) out.push_back(std::stoll(m[1]));
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t MemTotalMb(std::string_view meminfo) {
  std::istringstream in{std::string(meminfo)};
  std::string key;
  int64_t kb = 0;
  while (in >> key >> kb) {
    if (key == "MemTotal:") return kb / 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

Capacity ApplyOverrides(Capacity c, const CapacityOverrides& o) {
  if (o.cpus >= 0) c.cpu_milli = std::llround(o.cpus * 1000);
  if (o.memory_mb >= 0) c.memory_mb = o.memory_mb;
  if (o.gpus >= 0) {
    if (static_cast<int64_t>(c.gpus.size()) > o.gpus) c.gpus.resize(static_cast<size_t>(o.gpus));
    int64_t next = c.gpus.empty() ? 0 : *std::max_element(c.gpus.begin(), c.gpus.end()) + 1;
    while (static_cast<int64_t>(c.gpus.size()) < o.gpus) c.gpus.push_back(next++);
  }
  return c;
}

Capacity DetectCapacity(const CapacityOverrides& o, const std::vector<std::string>& env) {
  Capacity c;
  if (o.cpus < 0) c.cpu_milli = std::max<long>(0, sysconf(_SC_NPROCESSORS_ONLN)) * 1000;
  if (o.memory_mb < 0) {
    std::ifstream in("/proc/meminfo");
    std::stringstream text;
    text << in.rdbuf();
    c.memory_mb = MemTotalMb(text.str());
  }
  if (o.gpus < 0) c.gpus = DetectGpus(env);
  return ApplyOverrides(std::move(c), o);
}

}  // namespace titan::worker
