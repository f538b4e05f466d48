// Parsing /proc text and nvidia-smi output (fixtures from real machines), and the CPU share between samples.
#include "worker/machine_stats.h"

#include <gtest/gtest.h>

namespace titan::worker {
namespace {

constexpr const char* kProcStat =
    "cpu  4705 356 584 3699176 23 0 12 0 0 0\n"
    "cpu0 1393 280 283 358370 8 0 4 0 0 0\n"
    "cpu1 3312 76 301 3340806 15 0 8 0 0 0\n"
    "intr 114930548 113199788 3 0 5 263 0 4 [... lots more numbers ...]\n"
    "ctxt 1990473\n";

constexpr const char* kMeminfo =
    "MemTotal:       16310540 kB\n"
    "MemFree:         8003932 kB\n"
    "MemAvailable:   12264456 kB\n"
    "Buffers:          421260 kB\n"
    "Cached:          3946724 kB\n"
    "SwapTotal:       2097148 kB\n";

TEST(MachineStatsTest, ProcStatGivesBusyAndTotalTicksAndCountsCpus) {
  const std::optional<CpuTimes> t = ParseProcStat(kProcStat);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(4705 + 356 + 584 + 3699176 + 23 + 12, t->total);
  EXPECT_EQ(4705 + 356 + 584 + 12, t->busy);  // idle and iowait are not busy
  EXPECT_EQ(2, CountCpus(kProcStat));
}

TEST(MachineStatsTest, ProcStatWithoutACpuLineOrWithGarbageIsNotUnderstood) {
  EXPECT_FALSE(ParseProcStat("ctxt 1990473\n").has_value());
  EXPECT_FALSE(ParseProcStat("cpu  1 2 x 4 5\n").has_value());
  EXPECT_FALSE(ParseProcStat("").has_value());
  EXPECT_EQ(0, CountCpus("cpu  1 2 3 4\n"));
}

TEST(MachineStatsTest, MeminfoUsesMemAvailable) {
  const std::optional<MemInfo> m = ParseMeminfo(kMeminfo);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(int64_t{16310540} * 1024, m->total_bytes);
  EXPECT_EQ(int64_t{12264456} * 1024, m->available_bytes);
}

TEST(MachineStatsTest, MeminfoOfAnOldKernelAddsFreeBuffersAndCached) {
  const std::optional<MemInfo> m =
      ParseMeminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 30 kB\n");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(150 * 1024, m->available_bytes);
  EXPECT_FALSE(ParseMeminfo("MemFree: 100 kB\n").has_value());
}

TEST(MachineStatsTest, LoadavgGivesMilli) {
  const std::optional<LoadAvg> l = ParseLoadavg("1.52 0.98 0.4 2/613 40213\n");
  ASSERT_TRUE(l.has_value());
  EXPECT_EQ(1520, l->load1_milli);
  EXPECT_EQ(980, l->load5_milli);
  EXPECT_EQ(400, l->load15_milli);
  EXPECT_FALSE(ParseLoadavg("1.52 x 0.40\n").has_value());
  EXPECT_FALSE(ParseLoadavg("1.52\n").has_value());
}

TEST(MachineStatsTest, NvidiaSmiLinesBecomeGpusAndUnreadableOnesAreSkipped) {
  const std::vector<wire::GpuStats> gpus = ParseNvidiaSmi(
      "0, NVIDIA A100-SXM4-40GB, 87, 30720, 40960\n"
      "1, NVIDIA A100-SXM4-40GB, [N/A], 0, 40960\n"
      "2, Tesla T4, 0, 0, 15360\r\n");
  ASSERT_EQ(2u, gpus.size());
  EXPECT_EQ((wire::GpuStats{.index = 0,
                            .name = "NVIDIA A100-SXM4-40GB",
                            .util_pct = 87,
                            .mem_used_bytes = int64_t{30720} << 20,
                            .mem_total_bytes = int64_t{40960} << 20}),
            gpus[0]);
  EXPECT_EQ("Tesla T4", gpus[1].name);
  EXPECT_TRUE(
      ParseNvidiaSmi("NVIDIA-SMI has failed because it couldn't communicate with the driver.\n").empty());
}

TEST(MachineStatsTest, CpuShareIsBusyTicksOverAllTicksBetweenSamples) {
  EXPECT_EQ(250, CpuPermille({.busy = 100, .total = 1000}, {.busy = 150, .total = 1200}));
  EXPECT_EQ(1000, CpuPermille({.busy = 0, .total = 0}, {.busy = 10, .total = 10}));
  EXPECT_FALSE(CpuPermille({.busy = 10, .total = 100}, {.busy = 10, .total = 100}).has_value());  // no time
  EXPECT_FALSE(CpuPermille({.busy = 10, .total = 100}, {.busy = 5, .total = 50}).has_value());    // new boot
}

TEST(MachineStatsTest, StatsOfASampleReportWhatWasReadAndTheCpuShareOnlyWithAPreviousSample) {
  const MachineSample s{.cpu = CpuTimes{.busy = 150, .total = 1200},
                        .cpus = 8,
                        .mem = MemInfo{.total_bytes = 1000, .available_bytes = 400},
                        .load = LoadAvg{.load1_milli = 1520, .load5_milli = 980, .load15_milli = 400},
                        .disk = DiskSpace{.free_bytes = 70, .total_bytes = 100}};
  const wire::MachineStats first = MachineStatsOf(s, std::nullopt);
  EXPECT_FALSE(first.cpu_permille.has_value());
  EXPECT_EQ(8, first.cpus);
  EXPECT_EQ(600, first.mem_used_bytes);
  EXPECT_EQ(1000, first.mem_total_bytes);
  EXPECT_EQ(1520, first.load1_milli);
  EXPECT_EQ(70, first.disk_free_bytes);
  EXPECT_FALSE(first.gpus.has_value());
  EXPECT_EQ(250, MachineStatsOf(s, CpuTimes{.busy = 100, .total = 1000}).cpu_permille);
  EXPECT_EQ(wire::MachineStats{},
            MachineStatsOf(MachineSample{}, CpuTimes{}));  // nothing readable: nothing said
}

}  // namespace
}  // namespace titan::worker
