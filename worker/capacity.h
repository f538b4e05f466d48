// What this worker offers requests: CPU (thousandths of cores), memory (MB) and GPUs (device indices),
// detected from the machine or given by the operator (`titan worker --cpus --memory --gpus`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace titan::worker {

struct Capacity {
  int64_t cpu_milli = 0;
  int64_t memory_mb = 0;
  std::vector<int64_t> gpus;  // device indices, as CUDA_VISIBLE_DEVICES names them
};

// The operator's overrides; a negative value: detect.
struct CapacityOverrides {
  double cpus = -1;
  int64_t memory_mb = -1;
  int64_t gpus = -1;
};

// The GPU indices in `nvidia-smi -L` output ("GPU 0: NVIDIA A100 (UUID: GPU-...)" lines), in order.
std::vector<int64_t> ParseNvidiaSmiList(std::string_view text);
// The indices of /dev/nvidia<N> device names (nvidiactl, nvidia-uvm and the like are not GPUs), sorted.
std::vector<int64_t> GpuIndicesOfDevices(const std::vector<std::string>& names);
// MemTotal of /proc/meminfo's text, in MB; 0 when absent.
int64_t MemTotalMb(std::string_view meminfo);
// `detected` with the overrides applied: --gpus N keeps the first N detected devices, numbering more
// after them when fewer were found (the operator knows the machine).
Capacity ApplyOverrides(Capacity detected, const CapacityOverrides& o);

// Detects this machine: CPUs online x 1000, MemTotal, and GPUs from `nvidia-smi -L` (found on the PATH of
// `env`, given a few seconds) or else /dev/nvidia<N>; then applies the overrides. A part that cannot be
// read is 0 (logged).
Capacity DetectCapacity(const CapacityOverrides& o, const std::vector<std::string>& env);

}  // namespace titan::worker
