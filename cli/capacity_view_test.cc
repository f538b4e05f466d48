// The capacity line of `titan workers` / `titan stats`, and `titan run`'s requests into a JobSpec.
#include "cli/capacity_view.h"

#include <gtest/gtest.h>

#include "cli/requests.h"

namespace titan::cli {
namespace {

TEST(CapacityView, ShowsReservedOverCapacityThenLimitsAndRuntimes) {
  wire::WorkerInfo w{.name = "w1"};
  EXPECT_EQ("", RenderCapacity(w));
  w.cpu_milli = 2000;
  w.cpu_milli_reserved = 1500;
  w.memory_mb = 1024;
  w.memory_mb_reserved = 0;
  w.gpus = 2;
  w.gpus_reserved = 1;
  w.controls = std::vector<std::string>{"memory", "cpu"};
  w.limits_via = "cgroup v1";
  w.runtimes = std::vector<std::string>{"python-3.11"};
  EXPECT_EQ(
      "Capacity: CPU 1.5/2 cores | Mem 0/1024 MB | GPU 1/2 | Limits: memory, cpu (cgroup v1) | Runtimes: "
      "python-3.11",
      RenderCapacity(w));
  w.gpus = 0;  // none: not shown
  w.controls.reset();
  w.runtimes.reset();
  EXPECT_EQ("Capacity: CPU 1.5/2 cores | Mem 0/1024 MB", RenderCapacity(w));
}

TEST(Requests, FlagsBecomeTheJobSpecsRequestFields) {
  RunArgs args;
  wire::JobSpec spec;
  ApplyRequests(args, &spec);
  EXPECT_FALSE(spec.cpu_milli || spec.memory_mb || spec.gpus);
  args.cpu = 1.5;
  args.memory_mb = 512;
  args.gpus = 1;
  ApplyRequests(args, &spec);
  EXPECT_EQ(1500, spec.cpu_milli.value_or(0));
  EXPECT_EQ(512, spec.memory_mb.value_or(0));
  EXPECT_EQ(1, spec.gpus.value_or(0));
  EXPECT_EQ(1, CpuMilli(0.0005));
  EXPECT_EQ(0, CpuMilli(0.0004));
}

}  // namespace
}  // namespace titan::cli
