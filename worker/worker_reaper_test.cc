// WorkerReaper and DirLock: the reaper of a killed worker ends what the worker left, unless a worker
// restarted on the same --dir holds the lock (its jobs now live in the same cgroup directories, and it
// ended the leftovers itself); a worker's start waits for a reaper that is still sweeping.
#include "worker/worker_reaper.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "worker/child_process.h"
#include "worker/dir_lock.h"
#include "worker/exec_test_util.h"
#include "worker/pid_registry.h"

namespace titan::worker {
namespace {

using exec::testing::Command;
using exec::testing::TempDir;
using exec::testing::WaitForExit;

// A pid no process has any more: a child that exited and was reaped.
pid_t DeadWorkerPid() {
  Result<exec::ChildProcess> done = exec::ChildProcess::Spawn(Command({"/bin/true"}));
  EXPECT_TRUE(done.ok()) << done.message();
  const pid_t pid = done->pid();
  EXPECT_TRUE(WaitForExit(*done).has_value());
  return pid;
}

// A directory shaped as one of a worker's job cgroup directories: `<cgroups>/pool-0/cgroup.procs` names
// `job` (the reaper's sweep reads the list and SIGKILLs whoever it names, as in a real cgroup), and
// `<cgroups>/pool-1` is an idle one (the sweep removes it).
void WriteJobCgroups(const std::string& cgroups, pid_t job) {
  std::filesystem::create_directories(cgroups + "/pool-0");
  std::filesystem::create_directories(cgroups + "/pool-1");
  std::ofstream(cgroups + "/pool-0/cgroup.procs") << job << "\n";
}

// A killed worker's leftovers: a running job in a job cgroup, an idle cgroup, and the reaper's options
// naming them with the lock `lock` (default: the worker's own).
class WorkerReaperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(exec::PidRegistry::Open(dir_ / "pids").ok());
    Result<exec::ChildProcess> job = exec::ChildProcess::Spawn(Command({"/bin/sleep", "1000"}));
    ASSERT_TRUE(job.ok()) << job.message();
    job_.emplace(std::move(job.value()));
    WriteJobCgroups(cgroups_, job_->pid());
  }
  ReaperOptions Options(const std::string& lock) {
    return ReaperOptions{
        .worker_pid = DeadWorkerPid(), .registry = dir_ / "pids", .cgroup_dirs = {cgroups_}, .lock = lock};
  }
  // The sweep ran: the job was killed and the idle cgroup removed.
  void ExpectSwept() {
    const std::optional<exec::ExitStatus> ended = WaitForExit(*job_);
    ASSERT_TRUE(ended.has_value());
    EXPECT_EQ(SIGKILL, ended->signal);
    EXPECT_FALSE(std::filesystem::exists(cgroups_ + "/pool-1"));
  }

  TempDir dir_;
  const std::string cgroups_ = dir_ / "cgroups";
  std::optional<exec::ChildProcess> job_;
};

TEST_F(WorkerReaperTest, SweepsNothingWhileAWorkerRestartedOnItsDirHoldsTheLockThenSweepsOnceFree) {
  const ReaperOptions o = Options(DirLockPath(dir_.path()));
  {
    Result<exec::UniqueFd> restarted = LockDir(o.lock, std::chrono::milliseconds(0));  // the new life
    ASSERT_TRUE(restarted.ok()) << restarted.message();
    EXPECT_EQ(0, RunReaper(o));  // returns once done: a sweep would have removed the idle cgroup
    EXPECT_TRUE(std::filesystem::exists(cgroups_ + "/pool-1"));
  }
  EXPECT_EQ(0, RunReaper(o));  // no worker holds the lock: the leftovers are the reaper's to end
  ExpectSwept();
}

// A lock file that cannot be opened (its directory is gone) is held by nobody: the reaper still ends what
// the worker left.
TEST_F(WorkerReaperTest, SweepsWhenTheLockCannotBeOpened) {
  EXPECT_EQ(0, RunReaper(Options(dir_ / "gone/worker.lock")));
  ExpectSwept();
}

TEST(DirLock, IsExclusiveAcrossOpensAndSaysWhatToDoWhenStillHeld) {
  TempDir dir;
  const std::string path = DirLockPath(dir.path());
  Result<exec::UniqueFd> first = LockDir(path, std::chrono::milliseconds(0));
  ASSERT_TRUE(first.ok()) << first.message();
  Result<std::optional<exec::UniqueFd>> held = TryLockDir(path);
  ASSERT_TRUE(held.ok()) << held.message();
  EXPECT_FALSE(held->has_value());
  Result<exec::UniqueFd> second = LockDir(path, std::chrono::milliseconds(50));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find("a worker already runs with this --dir"), std::string::npos)
      << second.message();
  EXPECT_NE(second.message().find(path), std::string::npos) << second.message();
  first->Reset();
  Result<std::optional<exec::UniqueFd>> free = TryLockDir(path);
  ASSERT_TRUE(free.ok()) << free.message();
  EXPECT_TRUE(free->has_value());
  EXPECT_FALSE(TryLockDir(dir / "gone/worker.lock").ok()) << "a lock that cannot be opened is an error";
}

}  // namespace
}  // namespace titan::worker
