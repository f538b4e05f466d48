// JobCgroup on this machine's cgroups: processes that leave the job's process group (setsid) are still
// in its cgroup and end with it, and a previous life's cgroups are ended and removed. The cgroup tests
// are skipped, saying why, where no cgroup is writable (not root, none mounted).
#include "worker/job_cgroup.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "worker/child_process.h"
#include "worker/exec_test_util.h"

namespace titan::exec {
namespace {

using namespace testing;  // NOLINT: the exec test helpers (exec_test_util.h)

TEST(WorkerCgroupKey, IsTheNameAndAHashOfTheDataDirectory) {
  EXPECT_EQ(0u, WorkerCgroupKey("host-w1", "/data/a").find("host-w1-"));
  EXPECT_NE(WorkerCgroupKey("host-w1", "/data/a"), WorkerCgroupKey("host-w1", "/data/b"));
  EXPECT_EQ(WorkerCgroupKey("host-w1", "/data/a"), WorkerCgroupKey("host-w1", "/data/./a"));
  EXPECT_EQ(0u, WorkerCgroupKey("a/b c", "/d").find("a_b_c-"));
}

class JobCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<WorkerCgroups> worker = OpenWorkerCgroups(WorkerCgroupKey("exec-test", tmp_.path()));
    if (!worker.ok()) GTEST_SKIP() << "no writable cgroup here: " << worker.message();
    worker_ = *worker;
    dir_ = worker_.Unique().front();
    BecomeSubreaper();  // the escaped processes become ours to reap
  }
  void TearDown() override {
    for (const std::string& dir : worker_.Unique()) EndCgroupsUnder(dir, /*remove_dir=*/true);
  }

  // Starts `sh -c script` in the cgroup `path`; returns the pid the script prints first.
  pid_t StartIn(const std::string& path, const std::string& script, std::optional<ChildProcess>* child) {
    return StartIn(std::vector<std::string>{path}, script, child);
  }
  pid_t StartIn(const std::vector<std::string>& paths, const std::string& script,
                std::optional<ChildProcess>* child) {
    SpawnSpec spec = Command({"sh", "-c", script});
    spec.cgroups = paths;
    Result<ChildProcess> spawned = ChildProcess::Spawn(spec);
    EXPECT_TRUE(spawned.ok()) << spawned.message();
    if (!spawned.ok()) return -1;
    child->emplace(std::move(spawned.value()));
    const std::optional<std::string> line = ReadLine((*child)->stdout_fd());
    return line ? std::stoi(*line) : -1;
  }

  TempDir tmp_;
  WorkerCgroups worker_;
  std::string dir_;
};

TEST_F(JobCgroupTest, ProcessesThatCallSetsidEndWithTheJobsCgroup) {
  Result<JobCgroup> cgroup = JobCgroup::Create(dir_ + "/job-1");
  ASSERT_TRUE(cgroup.ok()) << cgroup.message();
  std::optional<ChildProcess> child;
  const pid_t escaped = StartIn(cgroup->path(), "setsid sleep 1000 >/dev/null 2>&1 & echo $!", &child);
  ASSERT_GT(escaped, 0);
  ASSERT_TRUE(WaitForExit(*child));
  child.reset();  // kills the shell's process group: the sleep is not in it
  EXPECT_FALSE(Gone(escaped));
  ASSERT_TRUE(cgroup->End().ok());
  EXPECT_TRUE(WaitAndReap(escaped));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/job-1"));
}

TEST_F(JobCgroupTest, APreviousLifesCgroupsAreEndedAndRemoved) {
  ASSERT_TRUE(std::filesystem::create_directory(dir_ + "/job-2"));  // as a killed worker left it
  std::optional<ChildProcess> child;
  const pid_t sleeper = StartIn(dir_ + "/job-2", "echo $$; exec sleep 1000", &child);
  ASSERT_GT(sleeper, 0);
  child->Release();
  EXPECT_EQ(1, EndCgroupsUnder(dir_, /*remove_dir=*/false));
  EXPECT_TRUE(WaitAndReap(sleeper));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/job-2"));
  EXPECT_TRUE(std::filesystem::exists(dir_));
}

// A job's limits, written into its cgroups before its first process joins (v1 or v2, whichever this
// machine has), and its counters read back.
class JobLimitsCgroupTest : public JobCgroupTest {
 protected:
  void SetUp() override {
    JobCgroupTest::SetUp();
    if (IsSkipped()) return;
    for (const char* c : {"memory", "cpuset", "pids"}) {
      if (std::ranges::count(worker_.controls(), c) == 0) GTEST_SKIP() << "this machine's cgroups lack " << c;
    }
  }
  // Runs `script` in a new job cgroup with `limits` to its end; returns its exit and its counters.
  std::pair<std::optional<ExitStatus>, CgroupUsage> RunWith(const JobLimits& limits,
                                                            const std::string& script,
                                                            std::string* output = nullptr) {
    Result<JobCgroup> cgroup = JobCgroup::Create(worker_, "limited", limits);
    EXPECT_TRUE(cgroup.ok()) << cgroup.message();
    if (!cgroup.ok()) return {};
    SpawnSpec spec = Command({"sh", "-c", script});
    spec.cgroups = cgroup->paths();
    Result<ChildProcess> child = ChildProcess::Spawn(spec);
    EXPECT_TRUE(child.ok()) << child.message();
    if (!child.ok()) return {};
    const std::optional<std::string> out = ReadToEof(child->stdout_fd(), std::chrono::seconds(60));
    if (output) *output = out.value_or("");
    std::optional<ExitStatus> exit = WaitForExit(*child, std::chrono::seconds(60));
    const CgroupUsage usage = cgroup->Usage();
    EXPECT_TRUE(cgroup->End().ok());
    for (const std::string& dir : worker_.Unique()) EXPECT_FALSE(std::filesystem::exists(dir + "/limited"));
    return {exit, usage};
  }
};

TEST_F(JobLimitsCgroupTest, AProcessOverItsMemoryLimitIsKilledAndTheKillIsCounted) {
  const auto [exit, usage] = RunWith(JobLimits{.memory_mb = 64},
                                     "exec python3 -c \"b = bytearray(200 * 1024 * 1024); b[::4096] = b'x' * "
                                     "len(b[::4096]); print(len(b))\"");
  ASSERT_TRUE(exit);
  EXPECT_EQ(ExitStatus::Kind::kSignaled, exit->kind) << exit->Render();
  EXPECT_EQ(SIGKILL, exit->signal);
  EXPECT_GE(usage.oom_kills, 1);
  ASSERT_TRUE(usage.peak_memory_bytes);
  EXPECT_LE(*usage.peak_memory_bytes, 64 * 1024 * 1024);
  EXPECT_GT(*usage.peak_memory_bytes, 32 * 1024 * 1024);
}

TEST_F(JobLimitsCgroupTest, AProcessUnderItsMemoryLimitRunsAndItsUsageIsCounted) {
  const auto [exit, usage] = RunWith(JobLimits{.memory_mb = 256},
                                     "exec python3 -c \"b = bytearray(100 * 1024 * 1024); b[::4096] = b'x' * "
                                     "len(b[::4096]); print(len(b))\"");
  ASSERT_TRUE(exit);
  EXPECT_TRUE(exit->success()) << exit->Render();
  EXPECT_EQ(0, usage.oom_kills);
  EXPECT_GE(usage.peak_memory_bytes.value_or(0), 100 * 1024 * 1024);
  EXPECT_TRUE(usage.cpu_ms);
}

TEST_F(JobLimitsCgroupTest, CpuCoresPinTheJobAndItsChildren) {
  std::string out;
  const auto [exit, usage] =
      RunWith(JobLimits{.cpus = "0"}, "sh -c 'grep Cpus_allowed_list /proc/self/status'", &out);
  ASSERT_TRUE(exit && exit->success());
  EXPECT_EQ("Cpus_allowed_list:\t0\n", out);
}

TEST_F(JobLimitsCgroupTest, AProcessLimitStopsAForkBombAndNothingIsLeft) {
  // Forks sleepers (their stdout closed) until fork fails, then prints how many it made.
  const std::string bomb =
      "import os, time\n"
      "n = 0\n"
      "try:\n"
      "    while n < 500:\n"
      "        if os.fork() == 0:\n"
      "            os.close(1); time.sleep(600); os._exit(0)\n"
      "        n += 1\n"
      "except OSError as e:\n"
      "    print(n, e.errno)\n";
  std::string out;
  const auto [exit, usage] = RunWith(JobLimits{.processes = 20}, "exec python3 -c '" + bomb + "'", &out);
  ASSERT_TRUE(exit);
  EXPECT_EQ("19 11\n", out);  // 20 with the forker itself; EAGAIN
  // RunWith ended the cgroup: its sleepers are gone with it (pgrep finds none of this test's).
}

// Each hierarchy a job joins costs its start a cgroup migration (a kernel-wide lock): a job joins the
// primary, the hierarchies of its usage counters, and only those its limits need.
WorkerCgroups AllV1Hierarchies(const std::string& primary = "memory") {
  WorkerCgroups w{.version = CgroupVersion::kV1, .primary = primary};
  for (const char* h : {"memory", "pids", "cpu", "cpuacct", "cpuset", "blkio"})
    w.dirs[h] = std::string("/cg/") + h;
  if (primary != "memory") w.dirs.erase("memory");
  return w;
}

TEST(JobHierarchies, AJobWithoutLimitsJoinsItsProcessListAndItsUsageCounters) {
  EXPECT_EQ((std::vector<std::string>{"memory", "cpuacct", "blkio"}), JobHierarchies(AllV1Hierarchies(), {}));
}

TEST(JobHierarchies, EachLimitAddsTheHierarchyThatEnforcesIt) {
  const WorkerCgroups w = AllV1Hierarchies();
  EXPECT_EQ((std::vector<std::string>{"memory", "cpuacct", "blkio", "pids"}),
            JobHierarchies(w, JobLimits{.processes = 10}));
  EXPECT_EQ((std::vector<std::string>{"memory", "cpuacct", "blkio", "cpu"}),
            JobHierarchies(w, JobLimits{.cpu_percent = 50}));
  EXPECT_EQ((std::vector<std::string>{"memory", "cpuacct", "blkio", "cpuset"}),
            JobHierarchies(w, JobLimits{.cpus = "0"}));
  EXPECT_EQ((std::vector<std::string>{"memory", "cpuacct", "blkio", "pids", "cpu", "cpuset"}),
            JobHierarchies(
                w, JobLimits{.memory_mb = 64, .cpu_percent = 50, .cpus = "0", .iobps = 1, .processes = 5}));
}

TEST(JobHierarchies, WithoutAMemoryHierarchyThePrimaryIsPids) {
  EXPECT_EQ((std::vector<std::string>{"pids", "cpuacct", "blkio"}),
            JobHierarchies(AllV1Hierarchies("pids"), {}));
}

TEST(JobHierarchies, OnV2AJobHasOneCgroup) {
  WorkerCgroups w{.version = CgroupVersion::kV2};
  w.dirs[""] = "/cg/titan-w";
  EXPECT_EQ((std::vector<std::string>{""}), JobHierarchies(w, JobLimits{.memory_mb = 64}));
}

// On this machine: a job without limits is not in the pids, cpu or cpuset hierarchy, and its usage is still
// counted.
TEST_F(JobCgroupTest, AJobWithoutLimitsJoinsOnlyTheHierarchiesItNeeds) {
  if (worker_.version != CgroupVersion::kV1) GTEST_SKIP() << "cgroup v2: a job has one cgroup";
  Result<JobCgroup> cgroup = JobCgroup::Create(worker_, "unlimited", JobLimits{});
  ASSERT_TRUE(cgroup.ok()) << cgroup.message();
  for (const auto& [key, dir] : worker_.dirs) {
    const bool joined = std::ranges::count(JobHierarchies(worker_, {}), key) > 0;
    EXPECT_EQ(joined, std::filesystem::exists(dir + "/unlimited")) << key;
  }
  std::optional<ChildProcess> child;
  StartIn(cgroup->paths(), "echo $$; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done", &child);
  ASSERT_TRUE(child);
  ASSERT_TRUE(WaitForExit(*child, std::chrono::seconds(60)));
  const CgroupUsage usage = cgroup->Usage();
  if (worker_.dirs.count("memory")) {
    EXPECT_GT(usage.peak_memory_bytes.value_or(0), 0);
  }
  if (worker_.dirs.count("cpuacct")) {
    EXPECT_TRUE(usage.cpu_ms.has_value());
  }
  EXPECT_TRUE(cgroup->End().ok());
}

// CgroupPool on this machine (v1 only): an emptied cgroup of a job without limits is kept and given to the
// next such job, with its counters starting again; nothing of the last job's processes carries over.
class CgroupPoolTest : public JobCgroupTest {
 protected:
  void SetUp() override {
    JobCgroupTest::SetUp();
    if (IsSkipped()) return;
    if (worker_.version != CgroupVersion::kV1) GTEST_SKIP() << "cgroup v2: jobs get fresh cgroups";
    pool_.emplace(worker_);
  }
  void TearDown() override {
    pool_.reset();
    JobCgroupTest::TearDown();
  }
  // Runs `script` (sh -c) in `cgroup` until it exits.
  // Runs `script` in `cgroup`, joined through the descriptors a pooled cgroup lends (as the worker does).
  void Run(JobCgroup& cgroup, const std::string& script) {
    SpawnSpec spec = Command({"sh", "-c", "echo $$; " + script});
    spec.cgroups = cgroup.paths();
    spec.cgroup_procs_fds = cgroup.ProcsFds();
    if (cgroup.pooled()) {
      ASSERT_EQ(spec.cgroups.size(), spec.cgroup_procs_fds.size());
    }
    Result<ChildProcess> child = ChildProcess::Spawn(spec);
    ASSERT_TRUE(child.ok()) << child.message();
    const std::optional<std::string> pid = ReadLine(child->stdout_fd());
    ASSERT_TRUE(pid.has_value());
    std::ifstream procs(cgroup.path() + "/cgroup.procs");
    const std::string listed(std::istreambuf_iterator<char>(procs), {});
    EXPECT_TRUE(listed.empty() || listed.find(*pid) != std::string::npos) << listed;  // empty: it ended
    ASSERT_TRUE(WaitForExit(*child, std::chrono::seconds(60)));
  }
  std::optional<CgroupPool> pool_;
};

TEST_F(CgroupPoolTest, AnEmptiedCgroupIsKeptAndTheNextJobGetsItWithItsCountersReset) {
  Result<JobCgroup> first = JobCgroup::Create(worker_, "job-a-1", JobLimits{}, &*pool_);
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_TRUE(first->pooled());
  const std::vector<std::string> paths = first->paths();
  EXPECT_EQ(0u, paths.front().rfind(dir_ + "/pool-", 0)) << paths.front();
  const std::vector<int> files = first->ProcsFds();  // kept open with it, as its counter files are
  Run(*first, "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done");  // ~1 s of CPU
  const int64_t first_cpu = first->Usage().cpu_ms.value_or(0);
  ASSERT_GT(first_cpu, 50) << "it did not run in the cgroup it joined through the lent descriptors";
  ASSERT_TRUE(first->End().ok());
  EXPECT_EQ(1u, pool_->idle());
  for (const std::string& path : paths) EXPECT_TRUE(std::filesystem::exists(path)) << path;

  Result<JobCgroup> second = JobCgroup::Create(worker_, "job-b-1", JobLimits{}, &*pool_);
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_EQ(paths, second->paths());
  EXPECT_EQ(files, second->ProcsFds()) << "the files are opened again";
  EXPECT_EQ(0u, pool_->idle());
  Run(*second, "true");
  const CgroupUsage usage = second->Usage();
  EXPECT_LT(usage.cpu_ms.value_or(0), first_cpu / 2) << "cpuacct.usage was not reset";
  EXPECT_EQ(0, usage.oom_kills);
  ASSERT_TRUE(second->End().ok());
  EXPECT_EQ(1u, pool_->idle());
}

TEST_F(CgroupPoolTest, AProcessThatEscapedItsGroupIsKilledBeforeTheCgroupIsKept) {
  Result<JobCgroup> cgroup = JobCgroup::Create(worker_, "job-c-1", JobLimits{}, &*pool_);
  ASSERT_TRUE(cgroup.ok()) << cgroup.message();
  std::optional<ChildProcess> child;
  const pid_t escaped = StartIn(cgroup->paths(), "setsid sleep 1000 >/dev/null 2>&1 & echo $!", &child);
  ASSERT_GT(escaped, 0);
  ASSERT_TRUE(WaitForExit(*child));
  child.reset();
  ASSERT_TRUE(cgroup->End().ok());
  EXPECT_TRUE(WaitAndReap(escaped));
  ASSERT_EQ(1u, pool_->idle());
  Result<JobCgroup> next = JobCgroup::Create(worker_, "job-d-1", JobLimits{}, &*pool_);
  ASSERT_TRUE(next.ok()) << next.message();
  std::ifstream procs(next->path() + "/cgroup.procs");
  EXPECT_EQ(std::string(), std::string(std::istreambuf_iterator<char>(procs), {}));
}

TEST_F(CgroupPoolTest, AJobWithLimitsGetsItsOwnCgroupWhichIsRemoved) {
  Result<JobCgroup> cgroup = JobCgroup::Create(worker_, "job-e-1", JobLimits{.memory_mb = 64}, &*pool_);
  ASSERT_TRUE(cgroup.ok()) << cgroup.message();
  EXPECT_FALSE(cgroup->pooled());
  EXPECT_EQ(dir_ + "/job-e-1", cgroup->path());
  ASSERT_TRUE(cgroup->End().ok());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/job-e-1"));
  EXPECT_EQ(0u, pool_->idle());
}

TEST_F(CgroupPoolTest, ACgroupStillChargedForMoreThanTheBoundIsRemovedNotKept) {
  if (!worker_.dirs.count("memory")) GTEST_SKIP() << "no memory hierarchy";
  Result<JobCgroup> cgroup = JobCgroup::Create(worker_, "job-f-1", JobLimits{}, &*pool_);
  ASSERT_TRUE(cgroup.ok()) << cgroup.message();
  const std::vector<std::string> paths = cgroup->paths();
  // 8 MiB written into the page cache stay charged to the cgroup after the writer exits.
  Run(*cgroup, "head -c 8388608 /dev/zero > " + tmp_.path() + "/cache.bin");
  ASSERT_TRUE(cgroup->End().ok());
  EXPECT_EQ(0u, pool_->idle());
  for (const std::string& path : paths) EXPECT_FALSE(std::filesystem::exists(path)) << path;
}

TEST_F(CgroupPoolTest, ThePoolRemovesItsIdleCgroupsWhenItEnds) {
  Result<JobCgroup> cgroup = JobCgroup::Create(worker_, "job-g-1", JobLimits{}, &*pool_);
  ASSERT_TRUE(cgroup.ok()) << cgroup.message();
  const std::vector<std::string> paths = cgroup->paths();
  ASSERT_TRUE(cgroup->End().ok());
  ASSERT_EQ(1u, pool_->idle());
  pool_.reset();
  for (const std::string& path : paths) EXPECT_FALSE(std::filesystem::exists(path)) << path;
}

TEST(SchedAffinity, PinsAChildWithoutACpusetCgroup) {
  SpawnSpec spec = Command({"grep", "Cpus_allowed_list", "/proc/self/status"});
  spec.cpus = {0};
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ("Cpus_allowed_list:\t0\n", ReadToEof(child->stdout_fd()).value_or(""));
}

TEST(JobCgroup, ASpawnIntoAMissingCgroupNamesIt) {
  SpawnSpec spec = Command({"true"});
  spec.cgroups = {"/nonexistent/cgroup"};
  EXPECT_EQ("cannot open '/nonexistent/cgroup/cgroup.procs': No such file or directory",
            ChildProcess::Spawn(spec).message());
}

}  // namespace
}  // namespace titan::exec
