// Limits, usage and worker controls as `titan status` and `titan stats` show them; the limit options of
// `titan run` in the JOB_SUBMIT they build.
#include "cli/limits_view.h"

#include <gtest/gtest.h>

#include "cli/job_view.h"
#include "cli/submit.h"

namespace titan::cli {
namespace {

TEST(LimitsView, LimitsAreListedOnlyWhenSet) {
  EXPECT_EQ("", RenderLimits(std::nullopt, 0, std::nullopt, std::nullopt, std::nullopt));
  EXPECT_EQ("memory 64 MB, cpu 150% of a core, cores 0-1, io 1048576 B/s, processes 100",
            RenderLimits(64, 150, std::string("0-1"), 1048576, 100));
}

TEST(LimitsView, UsageIsInReadableUnits) {
  EXPECT_EQ("", RenderUsage(std::nullopt));
  EXPECT_EQ(
      "peak memory 64.0 MiB, cpu 1.25 s, read 512 B, written 4.0 KiB",
      RenderUsage(wire::JobUsage{
          .peak_memory_bytes = 64 << 20, .cpu_ms = 1250, .io_read_bytes = 512, .io_write_bytes = 4096}));
}

TEST(LimitsView, StatusShowsLimitsAndUsage) {
  wire::JobInfo info{
      .id = "a", .state = "FAILED", .file = "x.py", .requirement = "GENERAL", .submitted_ms = 1};
  info.reason = "killed: memory limit 64 MB exceeded";
  info.max_memory = 64;
  info.usage = wire::JobUsage{.peak_memory_bytes = 67108864, .cpu_ms = 30};
  const std::string status = RenderJobStatus(JobFromInfo(info), 1000);
  EXPECT_NE(std::string::npos, status.find("reason:     killed: memory limit 64 MB exceeded\n")) << status;
  EXPECT_NE(std::string::npos, status.find("limits:     memory 64 MB\n")) << status;
  EXPECT_NE(std::string::npos, status.find("usage:      peak memory 64.0 MiB, cpu 0.03 s\n")) << status;
}

TEST(LimitsView, StatsShowWhatEachWorkerEnforces) {
  wire::StatsMsg stats;
  wire::WorkerInfo w{
      .name = "w1", .host = "h", .slots = 2, .busy = 0, .capabilities = {"GENERAL"}, .state = "READY"};
  w.controls = std::vector<std::string>{"memory", "cpu", "cpuset", "io", "pids"};
  w.limits_via = "cgroup v1";
  stats.workers.push_back(w);
  EXPECT_NE(std::string::npos, RenderStats(stats).find("Limits: memory, cpu, cpuset, io, pids (cgroup v1)"))
      << RenderStats(stats);
}

TEST(LimitOptions, RunFlagsBecomeTheJobSpecsLimits) {
  RunArgs args{.file = "x.sh"};
  args.limits =
      LimitArgs{.max_memory = 64, .max_cpu = 25, .cpu_cores = "0", .max_iobps = 100, .max_processes = 5};
  const Result<wire::JobSubmitMsg> submit = wire::JobSubmitMsg::From(BuildSubmit(args, "j", "echo"));
  ASSERT_TRUE(submit.ok()) << submit.message();
  const wire::JobSpec& spec = submit->jobs.at(0);
  EXPECT_EQ(64, spec.max_memory.value_or(0));
  EXPECT_EQ(25, spec.max_cpu.value_or(0));
  EXPECT_EQ("0", spec.cpu_cores.value_or(""));
  EXPECT_EQ(100, spec.max_iobps.value_or(0));
  EXPECT_EQ(5, spec.max_processes.value_or(0));
}

}  // namespace
}  // namespace titan::cli
