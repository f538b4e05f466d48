// Reading /proc and statvfs for a heartbeat, and nvidia-smi as a paced, non-blocking child.
#include "worker/machine_probe.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

namespace titan::worker {

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}
namespace {

// A whole small file, or nullopt when it cannot be read.
std::optional<std::string> Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<DiskSpace> DiskOf(const std::string& dir) {
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) != 0) return std::nullopt;
  const auto unit = static_cast<int64_t>(fs.f_frsize ? fs.f_frsize : fs.f_bsize);
  return DiskSpace{.free_bytes = static_cast<int64_t>(fs.f_bavail) * unit,
                   .total_bytes = static_cast<int64_t>(fs.f_blocks) * unit};
}

}  // namespace

MachineProbe::MachineProbe(std::string dir, std::string nvidia_smi, std::string proc)
    : dir_(std::move(dir)), nvidia_smi_(std::move(nvidia_smi)), proc_(std::move(proc)) {}

std::string MachineProbe::FindNvidiaSmi(const std::vector<std::string>& env) {
  Result<std::string> path = exec::FindProgram(kNvidiaSmiArgs[0], env, "");
  return path.ok() ? path.value() : "";
}

MachineSample MachineProbe::Sample(int64_t now_mono_ms) {
  MachineSample s;
  if (const std::optional<std::string> stat = Slurp(proc_ + "/stat")) {
    s.cpu = ParseProcStat(*stat);
    s.cpus = CountCpus(*stat);
  }
  if (const std::optional<std::string> mem = Slurp(proc_ + "/meminfo")) s.mem = ParseMeminfo(*mem);
  if (const std::optional<std::string> load = Slurp(proc_ + "/loadavg")) s.load = ParseLoadavg(*load);
  s.disk = DiskOf(dir_);
  TendGpu(now_mono_ms);
  s.gpus = gpus_;
  return s;
}

void MachineProbe::TendGpu(int64_t now) {
  if (nvidia_smi_.empty()) return;
  if (gpu_child_.pid() != -1) {
    char buf[4096];
    for (ssize_t n; (n = read(gpu_child_.stdout_fd(), buf, sizeof buf)) != 0;) {
      if (n < 0) break;  // EAGAIN: nothing more now
      gpu_out_.append(buf, static_cast<size_t>(n));
      if (gpu_out_.size() > (1 << 20)) break;  // not nvidia-smi's answer: the limit below ends it
    }
    if (gpu_child_.TryReap()) return FinishGpu();
    if (now - gpu_started_ > kGpuRunLimitMs || gpu_out_.size() > (1 << 20)) {
      if (!gpu_warned_)
        spdlog::warn("worker: {} took over {} ms; GPUs go unreported until it answers", nvidia_smi_,
                     kGpuRunLimitMs);
      gpu_warned_ = true;
      gpu_child_ = exec::ChildProcess();  // kills and reaps it
      gpu_out_.clear();
    }
    return;
  }
  if (now < gpu_next_) return;
  gpu_next_ = now + kGpuPollMs;
  exec::SpawnSpec spec{.argv = {nvidia_smi_, kNvidiaSmiArgs[1], kNvidiaSmiArgs[2]},
                       .env = exec::CurrentEnvironment(),
                       .merge_stderr = true};
  Result<exec::ChildProcess> child = exec::ChildProcess::Spawn(spec);
  if (!child.ok()) {
    if (!gpu_warned_) spdlog::warn("worker: GPUs go unreported: {}", child.message());
    gpu_warned_ = true;
    return;
  }
  gpu_child_ = std::move(child.value());
  gpu_started_ = now;
}

void MachineProbe::FinishGpu() {
  char buf[4096];
  for (ssize_t n; (n = read(gpu_child_.stdout_fd(), buf, sizeof buf)) > 0;)
    gpu_out_.append(buf, static_cast<size_t>(n));
  const std::optional<exec::ExitStatus> status = gpu_child_.TryReap();
  if (status && status->success()) {
    gpus_ = ParseNvidiaSmi(gpu_out_);
  } else if (!gpu_warned_) {
    spdlog::warn("worker: {} failed ({}); GPUs go unreported until it answers", nvidia_smi_,
                 status ? status->Render() : "no status");
    gpu_warned_ = true;
  }
  gpu_child_ = exec::ChildProcess();
  gpu_out_.clear();
}

}  // namespace titan::worker
