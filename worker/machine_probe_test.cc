// MachineProbe on a fake /proc and a fake nvidia-smi: what it reads reaches the sample; a GPU tool that
// fails or is absent leaves GPUs out.
#include "worker/machine_probe.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/clock.h"

namespace titan::worker {
namespace {

namespace fs = std::filesystem;

class MachineProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("machine_probe_test_" + std::to_string(getpid()));
    fs::create_directories(dir_ / "proc");
    Write("proc/stat", "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 100 0 50 800 50 0 0 0 0 0\n");
    Write("proc/meminfo", "MemTotal: 2048 kB\nMemAvailable: 1024 kB\n");
    Write("proc/loadavg", "0.50 0.25 0.10 1/100 42\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text, bool executable = false) {
    std::ofstream(dir_ / name) << text;
    if (executable) fs::permissions(dir_ / name, fs::perms::owner_all);
  }
  // Samples until the GPUs are reported (nvidia-smi runs as a child), for at most 10 s.
  MachineSample SampleUntilGpus(MachineProbe& probe) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    MachineSample s = probe.Sample(MonoMs());
    while (!s.gpus && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
      s = probe.Sample(MonoMs());
    }
    return s;
  }
  static int64_t MonoMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  fs::path dir_;
};

TEST_F(MachineProbeTest, ReadsProcFilesAndTheFreeSpaceOfItsFolder) {
  MachineProbe probe(dir_.string(), "", (dir_ / "proc").string());
  const MachineSample s = probe.Sample(0);
  ASSERT_TRUE(s.cpu.has_value());
  EXPECT_EQ(1000, s.cpu->total);
  EXPECT_EQ(150, s.cpu->busy);
  EXPECT_EQ(1, s.cpus);
  ASSERT_TRUE(s.mem.has_value());
  EXPECT_EQ(2048 * 1024, s.mem->total_bytes);
  ASSERT_TRUE(s.load.has_value());
  EXPECT_EQ(500, s.load->load1_milli);
  ASSERT_TRUE(s.disk.has_value());
  EXPECT_GT(s.disk->total_bytes, 0);
  EXPECT_LE(s.disk->free_bytes, s.disk->total_bytes);
  EXPECT_FALSE(s.gpus.has_value());  // no nvidia-smi
}

TEST_F(MachineProbeTest, MissingFilesAreLeftOut) {
  MachineProbe probe((dir_ / "nope").string(), "", (dir_ / "no-proc").string());
  const MachineSample s = probe.Sample(0);
  EXPECT_FALSE(s.cpu.has_value());
  EXPECT_FALSE(s.mem.has_value());
  EXPECT_FALSE(s.load.has_value());
  EXPECT_FALSE(s.disk.has_value());
}

TEST_F(MachineProbeTest, GpusComeFromNvidiaSmiRunAsAChild) {
  Write("nvidia-smi", "#!/bin/sh\necho '0, Fake GPU, 42, 1024, 8192'\n", /*executable=*/true);
  MachineProbe probe(dir_.string(), (dir_ / "nvidia-smi").string(), (dir_ / "proc").string());
  const MachineSample s = SampleUntilGpus(probe);
  ASSERT_TRUE(s.gpus.has_value());
  ASSERT_EQ(1u, s.gpus->size());
  EXPECT_EQ("Fake GPU", (*s.gpus)[0].name);
  EXPECT_EQ(42, (*s.gpus)[0].util_pct);
  EXPECT_EQ(int64_t{8192} << 20, (*s.gpus)[0].mem_total_bytes);
}

TEST_F(MachineProbeTest, AFailingNvidiaSmiLeavesGpusOut) {
  Write("nvidia-smi", "#!/bin/sh\necho 'NVIDIA-SMI has failed'\nexit 9\n", /*executable=*/true);
  MachineProbe probe(dir_.string(), (dir_ / "nvidia-smi").string(), (dir_ / "proc").string());
  probe.Sample(MonoMs());  // starts it
  ASSERT_TRUE(probe.GpuRunning());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (probe.GpuRunning() && std::chrono::steady_clock::now() < deadline) probe.Sample(MonoMs());
  EXPECT_FALSE(probe.GpuRunning());
  EXPECT_FALSE(probe.Sample(MonoMs()).gpus.has_value());
}

}  // namespace
}  // namespace titan::worker
