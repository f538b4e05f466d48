// Capacity detection's pure parts: nvidia-smi -L, /dev names, meminfo, overrides.
#include "worker/capacity.h"

#include <gtest/gtest.h>

namespace titan::worker {
namespace {

TEST(Capacity, NvidiaSmiListGivesTheIndices) {
  EXPECT_EQ((std::vector<int64_t>{0, 1}),
            ParseNvidiaSmiList("GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1b2c)\n"
                               "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-3d4e)\n"));
  EXPECT_EQ((std::vector<int64_t>{3}),
            ParseNvidiaSmiList("  MIG 1g.5gb Device 0: (UUID: MIG-x)\nGPU 3: T4 (UUID: y)"));
  EXPECT_EQ(std::vector<int64_t>{},
            ParseNvidiaSmiList("NVIDIA-SMI has failed because it couldn't communicate\n"));
  EXPECT_EQ(std::vector<int64_t>{}, ParseNvidiaSmiList(""));
}

TEST(Capacity, DeviceNamesOnlyCountNumberedGpus) {
  EXPECT_EQ((std::vector<int64_t>{0, 2}),
            GpuIndicesOfDevices({"nvidia2", "nvidiactl", "nvidia-uvm", "nvidia0", "null", "nvidia-caps"}));
}

TEST(Capacity, MemTotalInMb) {
  EXPECT_EQ(15953, MemTotalMb("MemTotal:       16336200 kB\nMemFree:         1234 kB\n"));
  EXPECT_EQ(0, MemTotalMb("MemFree: 1 kB\n"));
}

TEST(Capacity, OverridesReplaceWhatWasDetected) {
  const Capacity detected{.cpu_milli = 8000, .memory_mb = 16000, .gpus = {0, 1, 2, 3}};
  Capacity c = ApplyOverrides(detected, {});
  EXPECT_EQ(8000, c.cpu_milli);
  EXPECT_EQ(4u, c.gpus.size());
  c = ApplyOverrides(detected, {.cpus = 1.5, .memory_mb = 512, .gpus = 2});
  EXPECT_EQ(1500, c.cpu_milli);
  EXPECT_EQ(512, c.memory_mb);
  EXPECT_EQ((std::vector<int64_t>{0, 1}), c.gpus);
  c = ApplyOverrides(Capacity{.gpus = {1}}, {.gpus = 3});
  EXPECT_EQ((std::vector<int64_t>{1, 2, 3}), c.gpus);
  EXPECT_EQ(std::vector<int64_t>{}, ApplyOverrides(detected, {.gpus = 0}).gpus);
}

}  // namespace
}  // namespace titan::worker
