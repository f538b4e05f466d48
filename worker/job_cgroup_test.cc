// JobCgroup on this machine's cgroups: processes that leave the job's process group (setsid) are still
// in its cgroup and end with it, and a previous life's cgroups are ended and removed. The cgroup tests
// are skipped, saying why, where no cgroup is writable (not root, none mounted).
#include "worker/job_cgroup.h"

#include <gtest/gtest.h>

#include <filesystem>

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
    Result<std::string> dir = OpenWorkerCgroupDir(WorkerCgroupKey("exec-test", tmp_.path()));
    if (!dir.ok()) GTEST_SKIP() << "no writable cgroup here: " << dir.message();
    dir_ = *dir;
    BecomeSubreaper();  // the escaped processes become ours to reap
  }
  void TearDown() override {
    if (!dir_.empty()) EndCgroupsUnder(dir_, /*remove_dir=*/true);
  }

  // Starts `sh -c script` in the cgroup `path`; returns the pid the script prints first.
  pid_t StartIn(const std::string& path, const std::string& script, std::optional<ChildProcess>* child) {
    SpawnSpec spec = Command({"sh", "-c", script});
    spec.cgroup = path;
    Result<ChildProcess> spawned = ChildProcess::Spawn(spec);
    EXPECT_TRUE(spawned.ok()) << spawned.message();
    if (!spawned.ok()) return -1;
    child->emplace(std::move(spawned.value()));
    const std::optional<std::string> line = ReadLine((*child)->stdout_fd());
    return line ? std::stoi(*line) : -1;
  }

  TempDir tmp_;
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

TEST(JobCgroup, ASpawnIntoAMissingCgroupNamesIt) {
  SpawnSpec spec = Command({"true"});
  spec.cgroup = "/nonexistent/cgroup";
  EXPECT_EQ("cannot open '/nonexistent/cgroup/cgroup.procs': No such file or directory",
            ChildProcess::Spawn(spec).message());
}

}  // namespace
}  // namespace titan::exec
