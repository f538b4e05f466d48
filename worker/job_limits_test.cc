// Job limits in the worker's core: a job whose memory limit killed it is reported with the memory
// reason, a run's usage goes into its JobResult, a limit the worker cannot enforce is refused, and
// WORKER_READY says what it enforces.
#include "worker/job_limits.h"

#include <signal.h>

#include "worker/worker_core_fixture.h"

namespace titan::worker {
namespace {

wire::JobSpec Spec(std::optional<int64_t> memory, std::optional<std::string> cpus = std::nullopt,
                   std::optional<int64_t> processes = std::nullopt) {
  wire::JobSpec spec;
  spec.id = "a";
  spec.max_memory = memory;
  spec.cpu_cores = cpus;
  spec.max_processes = processes;
  return spec;
}

TEST(JobLimits, EachLimitNeedsItsControl) {
  EXPECT_TRUE(ControlsNeeded(Spec(std::nullopt)).empty());
  EXPECT_TRUE(ControlsNeeded(Spec(0)).empty());
  EXPECT_EQ((std::vector<std::string>{"memory", "cpuset", "pids"}), ControlsNeeded(Spec(64, "0", 10)));
}

TEST(JobLimits, AWorkerThatCannotEnforceALimitSaysWhichAndHow) {
  EXPECT_EQ("", Unenforceable(Spec(64), {"memory", "cpuset"}, "w1", "cgroup v1"));
  EXPECT_EQ(
      "worker w1 cannot enforce max_memory, max_processes (it enforces cpuset, by rlimit); run it on a "
      "worker "
      "with writable cgroups (docs/job-control.md, \"Limits\")",
      Unenforceable(Spec(64, "0", 5), {"cpuset"}, "w1", "rlimit"));
}

TEST(JobLimits, TheMemoryReasonNamesTheLimit) {
  EXPECT_EQ("killed: memory limit 64 MB exceeded", MemoryLimitReason(64));
}

TEST(JobLimits, UsageComesFromTheCounters) {
  const RunUsage r = UsageOf(exec::CgroupUsage{.peak_memory_bytes = 5, .cpu_ms = 7, .oom_kills = 1});
  EXPECT_TRUE(r.memory_killed);
  ASSERT_TRUE(r.usage);
  EXPECT_EQ(5, r.usage->peak_memory_bytes.value_or(-1));
  EXPECT_EQ(7, r.usage->cpu_ms.value_or(-1));
  EXPECT_FALSE(r.usage->io_read_bytes);
  EXPECT_FALSE(UsageOf(exec::CgroupUsage{}).usage);
}

class LimitsCoreTest : public WorkerCoreTest {
 protected:
  LimitsCoreTest() {
    config_.controls = {"memory", "cpuset"};
    config_.limits_via = "cgroup v1";
    Reset();
  }
};

TEST_F(LimitsCoreTest, AJobItsMemoryLimitKilledFailsWithTheMemoryReasonAndItsUsage) {
  Deliver(Assign("a", 1, {{"max_memory", Datum(int64_t{64})}}));
  core_->OnExit(
      "a", Killed(SIGKILL), Now(),
      RunUsage{.usage = wire::JobUsage{.peak_memory_bytes = 67108864, .cpu_ms = 12}, .memory_killed = true});
  Run();
  core_->OnOutputDone("a");
  EXPECT_EQ("end-run a; done a/1: killed: memory limit 64 MB exceeded; forget a", Tick(now_));
  const wire::WorkerReadyMsg ready = core_->ReadyMessage();  // unacknowledged: the result is held
  ASSERT_EQ(1u, ready.finished.size());
  ASSERT_TRUE(ready.finished[0].usage);
  EXPECT_EQ(67108864, ready.finished[0].usage->peak_memory_bytes.value_or(0));
  EXPECT_EQ(12, ready.finished[0].usage->cpu_ms.value_or(0));
}

TEST_F(LimitsCoreTest, ASignalWithoutAnOomKillKeepsItsOwnReason) {
  Deliver(Assign("a", 1, {{"max_memory", Datum(int64_t{64})}}));
  EXPECT_EQ("signal a KILL; end-run a; done a/1: killed by SIGKILL (signal 9); forget a",
            Ends("a", Killed(SIGKILL)));
}

TEST_F(LimitsCoreTest, ALimitTheWorkerCannotEnforceIsRefusedNotRunUnlimited) {
  EXPECT_EQ(
      "done a/1: worker w1 cannot enforce max_processes (it enforces memory cpuset, by cgroup v1); run it on "
      "a "
      "worker with writable cgroups (docs/job-control.md, \"Limits\")",
      Deliver(Assign("a", 1, {{"max_processes", Datum(int64_t{10})}})));
  EXPECT_EQ("", core_->RenderJobs());
}

TEST_F(LimitsCoreTest, WorkerReadySaysWhatItEnforces) {
  const wire::WorkerReadyMsg ready = core_->ReadyMessage();
  EXPECT_EQ((std::vector<std::string>{"memory", "cpuset"}),
            ready.controls.value_or(std::vector<std::string>{}));
  EXPECT_EQ("cgroup v1", ready.limits_via.value_or(""));
}

}  // namespace
}  // namespace titan::worker
