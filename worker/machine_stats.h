// Machine metrics from the text of /proc files and of nvidia-smi: pure parsing and arithmetic, no I/O
// (worker/machine_probe.h reads the files). Each parser returns nullopt for text it does not understand,
// never asserts: the files belong to the kernel of whatever machine the worker runs on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schemas/generated/messages.h"

namespace titan::worker {

// The aggregate "cpu" line of /proc/stat, in clock ticks since boot.
struct CpuTimes {
  int64_t busy = 0;   // everything but idle and iowait
  int64_t total = 0;  // everything
};
std::optional<CpuTimes> ParseProcStat(std::string_view proc_stat);
// The "cpuN" lines of /proc/stat: CPUs online; 0 when there are none.
int64_t CountCpus(std::string_view proc_stat);

struct MemInfo {
  int64_t total_bytes = 0;
  int64_t available_bytes = 0;  // MemAvailable (MemFree + Buffers + Cached on kernels before 3.14)
};
std::optional<MemInfo> ParseMeminfo(std::string_view proc_meminfo);

// /proc/loadavg's three averages, x 1000.
struct LoadAvg {
  int64_t load1_milli = 0, load5_milli = 0, load15_milli = 0;
};
std::optional<LoadAvg> ParseLoadavg(std::string_view proc_loadavg);

struct DiskSpace {
  int64_t free_bytes = 0;  // available to an unprivileged user
  int64_t total_bytes = 0;
};

// The command whose output ParseNvidiaSmi reads.
inline constexpr const char* kNvidiaSmiArgs[] = {
    "nvidia-smi", "--query-gpu=index,name,utilization.gpu,memory.used,memory.total",
    "--format=csv,noheader,nounits"};
// Lines "0, NVIDIA A100, 87, 30720, 40960" (memory in MiB); lines that do not parse are skipped
// ("[N/A]" values, for one).
std::vector<wire::GpuStats> ParseNvidiaSmi(std::string_view csv);

// CPU busy between two samples of the same machine, 0 .. 1000; nullopt when no time passed or the
// counters went back (a different boot).
std::optional<int64_t> CpuPermille(const CpuTimes& before, const CpuTimes& after);

// What the OS edge read at one heartbeat; each part absent when it could not be read.
struct MachineSample {
  std::optional<CpuTimes> cpu;
  int64_t cpus = 0;
  std::optional<MemInfo> mem;
  std::optional<LoadAvg> load;
  std::optional<DiskSpace> disk;
  std::optional<std::vector<wire::GpuStats>>
      gpus;  // the last nvidia-smi answer; absent: none yet, or no GPU tool
};

// The MachineStats of a HEARTBEAT: `sample`, with the CPU share since `previous` (the last sample's CPU
// times, if any).
wire::MachineStats MachineStatsOf(const MachineSample& sample, const std::optional<CpuTimes>& previous);

}  // namespace titan::worker
