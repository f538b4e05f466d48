// ChildProcess: exit statuses, cwd/env, errors that name the culprit, process-group signalling, and
// a destructor that leaves neither a running group member nor a zombie.
#include "worker/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "worker/exec_test_util.h"
#include "worker/pid_registry.h"

namespace titan::exec {
namespace {

using testing::BecomeSubreaper;
using testing::Command;
using testing::Gone;
using testing::ReadLine;
using testing::ReadToEof;
using testing::TempDir;
using testing::WaitAndReap;
using testing::WaitForExit;

std::string RunToExit(SpawnSpec spec) {
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  if (!child.ok()) return "spawn failed: " + child.message();
  const std::optional<ExitStatus> st = WaitForExit(*child);
  return st ? st->Render() : "timeout";
}

TEST(ChildProcess, ExitCodesAreRendered) {
  EXPECT_EQ("exit code 0", RunToExit(Command({"true"})));
  EXPECT_EQ("exit code 1", RunToExit(Command({"false"})));
  EXPECT_EQ("exit code 42", RunToExit(Command({"bash", "-c", "exit 42"})));
}

TEST(ChildProcess, DeathBySignalIsRendered) {
  EXPECT_EQ("killed by SIGKILL (signal 9)", RunToExit(Command({"bash", "-c", "kill -KILL $$"})));
  EXPECT_EQ("killed by SIGSEGV (signal 11)", RunToExit(Command({"bash", "-c", "kill -SEGV $$"})));
  EXPECT_EQ("killed by signal 77", (ExitStatus{ExitStatus::Kind::kSignaled, 0, 77}.Render()));
  EXPECT_EQ("exit status unknown", ExitStatus{}.Render());
}

TEST(ChildProcess, SuccessMeansExitZero) {
  EXPECT_TRUE((ExitStatus{ExitStatus::Kind::kExited, 0, 0}.success()));
  EXPECT_FALSE((ExitStatus{ExitStatus::Kind::kExited, 1, 0}.success()));
  EXPECT_FALSE((ExitStatus{ExitStatus::Kind::kSignaled, 0, SIGKILL}.success()));
}

TEST(ChildProcess, CwdAndEnvironmentAreHonouredAndNothingElseIsInherited) {
  TempDir dir;
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "pwd; echo \"$TITAN_X\"; echo \"${HOME-unset}\""};
  spec.env = {"PATH=/usr/bin:/bin", "TITAN_X=hello world"};
  spec.cwd = dir.path();
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ(dir.path() + "\nhello world\nunset\n", ReadToEof(child->stdout_fd()).value_or("timeout"));
  EXPECT_EQ("exit code 0", WaitForExit(*child)->Render());
}

TEST(ChildProcess, ALaterEnvironmentEntryOverridesAnEarlierOne) {
  SpawnSpec spec;
  spec.argv = {"sh", "-c", "echo \"$A\"; env | grep -c '^A='"};
  spec.env = {"PATH=/nonexistent", "A=1", "PATH=/usr/bin:/bin", "A=2"};
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ("2\n1\n", ReadToEof(child->stdout_fd()).value_or("timeout"));
}

TEST(ChildProcess, AnOutputFileTakesBothStreamsAndIsAppendedTo) {
  TempDir dir;
  const std::string log = dir / "child.log";
  std::ofstream(log) << "earlier\n";
  SpawnSpec spec = Command({"sh", "-c", "echo out; echo err >&2"});
  spec.output_file = log;
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ(-1, child->stdout_fd());
  EXPECT_EQ(-1, child->stderr_fd());
  EXPECT_EQ("exit code 0", WaitForExit(*child)->Render());
  std::ifstream in(log);
  EXPECT_EQ("earlier\nout\nerr\n", std::string(std::istreambuf_iterator<char>(in), {}));
}

TEST(ChildProcess, AnOutputFileThatCannotBeOpenedIsNamed) {
  SpawnSpec spec = Command({"true"});
  spec.output_file = "/nonexistent-titan-dir/child.log";
  EXPECT_EQ("cannot open '/nonexistent-titan-dir/child.log': No such file or directory",
            ChildProcess::Spawn(spec).message());
}

TEST(ChildProcess, DefaultHandleHoldsNothing) {
  ChildProcess empty;
  EXPECT_EQ(-1, empty.pid());
  EXPECT_EQ(-1, empty.stdout_fd());
  EXPECT_FALSE(empty.TryReap().has_value());
  EXPECT_EQ("cannot signal: the handle holds no process", empty.SignalGroup(SIGTERM).message());
}

TEST(ChildProcess, StdinIsDevNull) {
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"cat"}));
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ("", ReadToEof(child->stdout_fd()).value_or("timeout"));
  EXPECT_EQ("exit code 0", WaitForExit(*child)->Render());
}

TEST(ChildProcess, StdoutAndStderrAreSeparatePipesUnlessMerged) {
  SpawnSpec spec = Command({"sh", "-c", "echo out; echo err >&2; echo out2"});
  Result<ChildProcess> apart = ChildProcess::Spawn(spec);
  ASSERT_TRUE(apart.ok()) << apart.message();
  EXPECT_EQ("out\nout2\n", ReadToEof(apart->stdout_fd()).value_or("timeout"));
  EXPECT_EQ("err\n", ReadToEof(apart->stderr_fd()).value_or("timeout"));

  spec.merge_stderr = true;
  Result<ChildProcess> merged = ChildProcess::Spawn(spec);
  ASSERT_TRUE(merged.ok()) << merged.message();
  EXPECT_EQ(-1, merged->stderr_fd());
  EXPECT_EQ("out\nerr\nout2\n", ReadToEof(merged->stdout_fd()).value_or("timeout"));
}

TEST(ChildProcess, OnlyTheStandardDescriptorsReachTheChild) {
  const int leaky = ::open("/dev/null", O_RDONLY);  // deliberately without O_CLOEXEC
  ASSERT_GE(leaky, 0);
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"ls", "/proc/self/fd"}));
  ::close(leaky);
  ASSERT_TRUE(child.ok()) << child.message();
  // 3 is ls's own handle on the directory it lists.
  EXPECT_EQ("0\n1\n2\n3\n", ReadToEof(child->stdout_fd()).value_or("timeout"));
}

TEST(ChildProcess, OurPipeEndsAreNonBlockingAndCloseOnExec) {
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"true"}));
  ASSERT_TRUE(child.ok()) << child.message();
  for (int fd : {child->stdout_fd(), child->stderr_fd()}) {
    EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  }
}

TEST(ChildProcess, MissingExecutableIsAReadableError) {
  TempDir dir;
  SpawnSpec spec = Command({"./x.sh"});
  spec.cwd = dir.path();
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ("cannot run './x.sh': No such file or directory", child.message());

  SpawnSpec bare = Command({"titan-no-such-program"});
  bare.env = {"PATH=/usr/bin:/bin"};
  EXPECT_EQ(
      "cannot run 'titan-no-such-program': No such file or directory "
      "(no executable of that name on PATH /usr/bin:/bin)",
      ChildProcess::Spawn(bare).message());
}

TEST(ChildProcess, NonExecutableFileAndBadCwdAreReadableErrors) {
  TempDir dir;
  std::ofstream(dir / "plain.sh") << "echo hi\n";
  SpawnSpec spec = Command({dir / "plain.sh"});
  EXPECT_EQ("cannot run '" + (dir / "plain.sh") + "': Permission denied",
            ChildProcess::Spawn(spec).message());

  SpawnSpec nowhere = Command({"true"});
  nowhere.cwd = dir / "missing";
  EXPECT_EQ("cannot use working directory '" + (dir / "missing") + "': No such file or directory",
            ChildProcess::Spawn(nowhere).message());
  nowhere.cwd = dir / "plain.sh";
  EXPECT_EQ("cannot use working directory '" + (dir / "plain.sh") + "': Not a directory",
            ChildProcess::Spawn(nowhere).message());
  EXPECT_EQ("cannot spawn: the command is empty", ChildProcess::Spawn(SpawnSpec{}).message());
}

TEST(ChildProcess, RunsInItsOwnProcessGroup) {
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"sleep", "1000"}));
  ASSERT_TRUE(child.ok()) << child.message();
  const std::optional<ProcStat> st = ReadProcStat(child->pid());
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(child->pid(), st->pgrp);
  EXPECT_NE(::getpgrp(), st->pgrp);
}

TEST(ChildProcess, SignalGroupEndsTheShellAndItsGrandchild) {
  BecomeSubreaper();  // the orphaned grandchild comes to us, so we can reap it and see it gone
  Result<ChildProcess> child =
      ChildProcess::Spawn(Command({"bash", "-c", "sleep 1000 & echo $!; sleep 1000; wait"}));
  ASSERT_TRUE(child.ok()) << child.message();
  const pid_t grandchild = std::stoi(ReadLine(child->stdout_fd()).value_or("0"));
  ASSERT_GT(grandchild, 0);
  ASSERT_EQ(child->pid(), ReadProcStat(grandchild).value_or(ProcStat{}).pgrp);

  ASSERT_TRUE(child->SignalGroup(SIGTERM).ok());
  EXPECT_EQ("killed by SIGTERM (signal 15)", WaitForExit(*child).value_or(ExitStatus{}).Render());
  // The shell may have reaped the grandchild itself before dying; otherwise it came to us (subreaper).
  if (const std::optional<int> gst = WaitAndReap(grandchild)) {
    EXPECT_TRUE(WIFSIGNALED(*gst) && WTERMSIG(*gst) == SIGTERM);
  }
  EXPECT_TRUE(Gone(grandchild));
}

TEST(ChildProcess, SignalsTheWorkerIgnoresAreDefaultInTheChild) {
  struct sigaction ignore = {}, old = {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGTERM, &ignore, &old);
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"sleep", "1000"}));
  ::sigaction(SIGTERM, &old, nullptr);
  ASSERT_TRUE(child.ok()) << child.message();
  ASSERT_TRUE(child->SignalGroup(SIGTERM).ok());
  EXPECT_EQ("killed by SIGTERM (signal 15)", WaitForExit(*child).value_or(ExitStatus{}).Render());
}

// The start time a spawn measures is the one /proc gives (the PID registry records it instead of reading
// /proc). A spawn that spans a clock tick gives none, so spawns are made until several did.
TEST(ChildProcess, TheStartTimeASpawnGivesIsTheOneProcGives) {
  int given = 0;
  for (int i = 0; i < 500 && given < 5; ++i) {
    Result<ChildProcess> child = ChildProcess::Spawn(Command({"sleep", "1000"}));
    ASSERT_TRUE(child.ok()) << child.message();
    if (!child->start_time()) continue;
    ++given;
    EXPECT_EQ(ReadProcStat(child->pid()).value_or(ProcStat{}).start_time, *child->start_time());
    ChildProcess moved = std::move(*child);
    EXPECT_FALSE(child->start_time().has_value());
    EXPECT_TRUE(moved.start_time().has_value());
  }
  EXPECT_GE(given, 1);  // none in 500 spawns: the spawn never measures it
}

TEST(ChildProcess, TryReapIsNonBlockingAndStable) {
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"sleep", "1000"}));
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_FALSE(child->TryReap().has_value());
  ASSERT_TRUE(child->SignalGroup(SIGKILL).ok());
  EXPECT_EQ("killed by SIGKILL (signal 9)", WaitForExit(*child).value_or(ExitStatus{}).Render());
  EXPECT_EQ("killed by SIGKILL (signal 9)", child->TryReap().value_or(ExitStatus{}).Render());
  // The leader is kept as a zombie until the handle ends, so signalling the group stays valid.
  EXPECT_EQ('Z', ReadProcStat(child->pid()).value_or(ProcStat{}).state);
  EXPECT_TRUE(child->SignalGroup(SIGTERM).ok());
}

TEST(ChildProcess, DestructorKillsTheGroupAndLeavesNoZombie) {
  pid_t pid = -1;
  {
    Result<ChildProcess> child = ChildProcess::Spawn(Command({"sleep", "1000"}));
    ASSERT_TRUE(child.ok()) << child.message();
    pid = child->pid();
  }
  EXPECT_EQ(-1, ::waitpid(pid, nullptr, WNOHANG));
  EXPECT_EQ(ECHILD, errno);
  EXPECT_TRUE(Gone(pid));
}

TEST(ChildProcess, DestructorEndsMembersLeftBehindByAnExitedLeader) {
  BecomeSubreaper();
  pid_t grandchild = -1;
  {
    Result<ChildProcess> child = ChildProcess::Spawn(Command({"bash", "-c", "sleep 1000 & echo $!"}));
    ASSERT_TRUE(child.ok()) << child.message();
    grandchild = std::stoi(ReadLine(child->stdout_fd()).value_or("0"));
    ASSERT_GT(grandchild, 0);
    EXPECT_EQ("exit code 0", WaitForExit(*child).value_or(ExitStatus{}).Render());
    EXPECT_FALSE(Gone(grandchild));
  }
  const std::optional<int> gst = WaitAndReap(grandchild);
  ASSERT_TRUE(gst.has_value());
  EXPECT_TRUE(WIFSIGNALED(*gst) && WTERMSIG(*gst) == SIGKILL);
}

TEST(ChildProcess, MoveTransfersOwnership) {
  Result<ChildProcess> spawned = ChildProcess::Spawn(Command({"sh", "-c", "echo moved"}));
  ASSERT_TRUE(spawned.ok()) << spawned.message();
  const pid_t pid = spawned->pid();
  ChildProcess moved = std::move(*spawned);
  EXPECT_EQ(-1, spawned->pid());
  EXPECT_EQ(-1, spawned->stdout_fd());
  EXPECT_EQ(pid, moved.pid());
  EXPECT_EQ("moved\n", ReadToEof(moved.stdout_fd()).value_or("timeout"));
  EXPECT_EQ("exit code 0", WaitForExit(moved).value_or(ExitStatus{}).Render());

  Result<ChildProcess> other = ChildProcess::Spawn(Command({"sleep", "1000"}));
  ASSERT_TRUE(other.ok()) << other.message();
  const pid_t replaced = moved.pid();
  moved = std::move(*other);  // ends and reaps the child `moved` held
  EXPECT_TRUE(Gone(replaced));
  EXPECT_FALSE(moved.TryReap().has_value());
}

TEST(ChildProcess, ReleaseForgetsWithoutKilling) {
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"sleep", "1000"}));
  ASSERT_TRUE(child.ok()) << child.message();
  const pid_t pid = child->Release();
  EXPECT_EQ(-1, child->pid());
  EXPECT_EQ(-1, child->stdout_fd());
  EXPECT_EQ(-1, child->exit_fd());
  EXPECT_FALSE(child->SignalGroup(SIGTERM).ok());
  const std::optional<ProcStat> alive = ReadProcStat(pid);
  ASSERT_TRUE(alive.has_value());
  EXPECT_NE('Z', alive->state);
  ::kill(-pid, SIGKILL);
  const std::optional<int> st = WaitAndReap(pid);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL);
}

// The parent-death signal is set before exec: the child dies when the thread that spawned it ends,
// unless the spec asks for none, or for it only until exec (a run its worker's reaper watches).
TEST(ChildProcess, ChildDiesWithTheThreadThatSpawnedIt) {
  std::optional<ChildProcess> tied, untied, until_exec;
  std::thread([&] {
    tied.emplace(std::move(ChildProcess::Spawn(Command({"sleep", "1000"})).value()));
    SpawnSpec spec = Command({"sleep", "1000"});
    spec.parent_death_signal = 0;
    untied.emplace(std::move(ChildProcess::Spawn(spec).value()));
    spec = Command({"sleep", "1000"});
    spec.death_signal_until_exec = true;
    until_exec.emplace(std::move(ChildProcess::Spawn(spec).value()));
  }).join();
  EXPECT_EQ("killed by SIGKILL (signal 9)", WaitForExit(*tied).value_or(ExitStatus{}).Render());
  EXPECT_FALSE(untied->TryReap().has_value());
  EXPECT_FALSE(until_exec->TryReap().has_value());
}

}  // namespace
}  // namespace titan::exec
