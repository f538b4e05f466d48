// MachineProbe: the OS edge that samples this machine for the worker's heartbeats — /proc/stat,
// /proc/meminfo, /proc/loadavg and statvfs of the worker's folder, read on the loop thread (small
// files, no waiting); GPUs from nvidia-smi, run rarely as a child whose output is read without
// blocking, so a slow or hung nvidia-smi never holds up the loop. Parsing is worker/machine_stats.h.
// Single-threaded: only the worker loop calls it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "worker/child_process.h"
#include "worker/machine_stats.h"

namespace titan::worker {

// This machine's name (gethostname), as a worker reports it in WORKER_READY.host.
std::string HostName();

// How often nvidia-smi runs, and how long one run may take before it is killed.
inline constexpr int64_t kGpuPollMs = 30000;
inline constexpr int64_t kGpuRunLimitMs = 10000;

class MachineProbe {
 public:
  // `dir`: a path on the filesystem whose free space is reported. `proc`: where /proc is (tests).
  // `nvidia_smi`: the program's path; empty: no GPU reporting (the worker found none on its PATH).
  MachineProbe(std::string dir, std::string nvidia_smi, std::string proc = "/proc");

  // Reads the machine now; `now_mono_ms` paces nvidia-smi. Never blocks; parts that cannot be read
  // are left out of the sample.
  MachineSample Sample(int64_t now_mono_ms);

  // nvidia-smi on the PATH of `env`, or "" when there is none.
  static std::string FindNvidiaSmi(const std::vector<std::string>& env);
  // Whether `pid` is the nvidia-smi this probe will reap.
  bool Owns(pid_t pid) const { return pid != -1 && gpu_child_.pid() == pid; }
  bool GpuRunning() const { return gpu_child_.pid() != -1; }  // an nvidia-smi is in flight

 private:
  // Starts nvidia-smi when one is due, collects the output of the one running.
  void TendGpu(int64_t now);
  void FinishGpu();

  std::string dir_, nvidia_smi_, proc_;
  exec::ChildProcess gpu_child_;                     // nvidia-smi in flight (pid() == -1: none)
  std::string gpu_out_;                              // its output so far
  int64_t gpu_started_ = 0;                          // monotonic ms
  int64_t gpu_next_ = 0;                             // when the next run is due
  bool gpu_warned_ = false;                          // a failure was logged
  std::optional<std::vector<wire::GpuStats>> gpus_;  // the last answer
};

}  // namespace titan::worker
