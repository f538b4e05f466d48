// PidRegistry: /proc parsing, persistence across reopen, and the startup reaper ending exactly the
// recorded groups that are still ours.
#include "worker/pid_registry.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <climits>
#include <filesystem>
#include <fstream>

#include "worker/child_process.h"
#include "worker/exec_test_util.h"

namespace titan::exec {
namespace {

using testing::BecomeSubreaper;
using testing::Command;
using testing::Gone;
using testing::ReadLine;
using testing::TempDir;
using testing::WaitAndReap;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ReadProcStat, ReadsGroupAndStartTimeEvenWithAnAwkwardName) {
  const std::optional<ProcStat> self = ReadProcStat(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(::getpgrp(), self->pgrp);
  EXPECT_GT(self->start_time, 0u);
  EXPECT_FALSE(ReadProcStat(INT_MAX).has_value());

  TempDir dir;
  const std::string odd = dir / "a) b c) d";  // comm becomes "a) b c) d"
  std::filesystem::create_symlink("/bin/sleep", odd);
  Result<ChildProcess> child = ChildProcess::Spawn(Command({odd, "1000"}));
  ASSERT_TRUE(child.ok()) << child.message();
  const std::optional<ProcStat> st = ReadProcStat(child->pid());
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(child->pid(), st->pgrp);
  EXPECT_GE(st->start_time, self->start_time);
  EXPECT_EQ(std::optional<int>(0), st->exit_code);  // running
}

TEST(ReadProcStat, ReadsAZombiesWaitStatus) {
  Result<ChildProcess> child = ChildProcess::Spawn(Command({"/bin/sh", "-c", "exit 5"}));
  ASSERT_TRUE(child.ok()) << child.message();
  pollfd p{child->exit_fd(), POLLIN, 0};
  ASSERT_EQ(1, ::poll(&p, 1, 10000));  // exited; not reaped while the handle holds it
  const std::optional<ProcStat> st = ReadProcStat(child->pid());
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ('Z', st->state);
  ASSERT_TRUE(st->exit_code.has_value());
  EXPECT_TRUE(WIFEXITED(*st->exit_code));
  EXPECT_EQ(5, WEXITSTATUS(*st->exit_code));
}

constexpr std::string_view kHeader =
    "# titan pid registry v2: '<pgid> <leader start time, ticks after boot>' records a group, "
    "'- <pgid>' forgets it; later lines win\n";

TEST(PidRegistry, PersistsAcrossReopenAndCompactsOnOpen) {
  TempDir dir;
  const std::string path = dir / "pids.db";
  {
    Result<PidRegistry> reg = PidRegistry::Open(path);
    ASSERT_TRUE(reg.ok()) << reg.message();
    EXPECT_EQ("", reg->Render());
    ASSERT_TRUE(reg->AddWithStartTime(200, 7).ok());
    ASSERT_TRUE(reg->AddWithStartTime(100, 5).ok());
  }
  Result<PidRegistry> reg = PidRegistry::Open(path);
  ASSERT_TRUE(reg.ok()) << reg.message();
  EXPECT_EQ("100@5 200@7", reg->Render());
  ASSERT_TRUE(reg->Remove(100).ok());
  ASSERT_TRUE(reg->Remove(12345).ok());  // unknown: fine, and not written
  EXPECT_EQ(std::string(kHeader) + "200 7\n100 5\n- 100\n", Slurp(path));
  EXPECT_EQ("200@7", PidRegistry::Open(path)->Render());
  EXPECT_EQ(std::string(kHeader) + "200 7\n", Slurp(path));  // opening compacted it
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

// A change appends to the same file (no new inode per job), and a long log is compacted in place of a
// rewrite per change, keeping exactly the live groups.
TEST(PidRegistry, AppendsChangesAndCompactsALongLog) {
  TempDir dir;
  const std::string path = dir / "pids.db";
  Result<PidRegistry> reg = PidRegistry::Open(path);
  ASSERT_TRUE(reg.ok()) << reg.message();
  ASSERT_TRUE(reg->AddWithStartTime(7, 70).ok());
  struct stat first {};
  ASSERT_EQ(0, ::stat(path.c_str(), &first));
  for (pid_t pgid = 100; pgid < 200; ++pgid) {
    ASSERT_TRUE(reg->AddWithStartTime(pgid, 1).ok());
    ASSERT_TRUE(reg->Remove(pgid).ok());
  }
  struct stat now {};
  ASSERT_EQ(0, ::stat(path.c_str(), &now));
  EXPECT_EQ(first.st_ino, now.st_ino);
  EXPECT_EQ("7@70", PidRegistry::Open(path)->Render());

  Result<PidRegistry> again = PidRegistry::Open(path);
  for (pid_t pgid = 1000; pgid < 3000; ++pgid) {
    ASSERT_TRUE(again->AddWithStartTime(pgid, 2).ok());
    ASSERT_TRUE(again->Remove(pgid).ok());
  }
  ASSERT_TRUE(again->AddWithStartTime(9, 90).ok());
  EXPECT_LT(Slurp(path).size(), 1500u * 8);  // compacted at least once on the way (4,001 changes)
  EXPECT_EQ("7@70 9@90", PidRegistry::Open(path)->Render());
}

// The groups a registry file with `text` loads as.
std::string Loaded(const std::string& text) {
  TempDir dir;
  std::ofstream(dir / "pids.db") << text;
  Result<PidRegistry> reg = PidRegistry::Open(dir / "pids.db");
  return reg.ok() ? reg->Render() : "error: " + reg.message();
}

TEST(PidRegistry, ReadsRemovalsVersionOneFilesAndSkipsATornLastLine) {
  EXPECT_EQ("400@4", Loaded("# titan pid registry v1: <pgid> <leader start time>\n300 9\n400 4\n- 300\n50"));
}

TEST(PidRegistry, SkipsMalformedLines) {
  EXPECT_EQ("300@9 600@11",
            Loaded("# header\n300 9\ngarbage\n400\n500 1 extra\n1 5\n\n600 11\n- \n-x\n- 1\n"));
}

TEST(PidRegistry, AddingAProcessThatDoesNotExistFails) {
  TempDir dir;
  Result<PidRegistry> reg = PidRegistry::Open(dir / "pids.db");
  ASSERT_TRUE(reg.ok()) << reg.message();
  EXPECT_EQ("cannot record process group 2147483647: no such process", reg->Add(INT_MAX).message());
  EXPECT_EQ("cannot open '/nonexistent-titan-dir/pids.db': No such file or directory",
            PidRegistry::Open("/nonexistent-titan-dir/pids.db")->AddWithStartTime(5, 5).message());
}

// A start time the caller measured (its spawn's) is recorded as given: /proc is not read for it.
TEST(PidRegistry, AGivenStartTimeIsRecordedWithoutProc) {
  TempDir dir;
  Result<PidRegistry> reg = PidRegistry::Open(dir / "pids.db");
  ASSERT_TRUE(reg.ok()) << reg.message();
  ASSERT_TRUE(reg->Add(INT_MAX, 42).ok());  // no such process: only /proc would have said so
  EXPECT_EQ("2147483647@42", reg->Render());
}

TEST(PidRegistry, ReapLeftoversEndsOnlyTheGroupsThatAreStillOurs) {
  BecomeSubreaper();
  TempDir dir;
  const std::string path = dir / "pids.db";
  // A group left behind by a "crashed worker": a shell and its background child, handle released.
  Result<ChildProcess> left = ChildProcess::Spawn(Command({"bash", "-c", "sleep 1000 & echo $!; wait"}));
  ASSERT_TRUE(left.ok()) << left.message();
  const pid_t member = std::stoi(ReadLine(left->stdout_fd()).value_or("0"));
  ASSERT_GT(member, 0);
  // A live group whose recorded start time does not match: a recycled pid, not ours.
  Result<ChildProcess> stranger = ChildProcess::Spawn(Command({"sleep", "1000"}));
  ASSERT_TRUE(stranger.ok()) << stranger.message();
  const uint64_t stranger_start = ReadProcStat(stranger->pid()).value_or(ProcStat{}).start_time;
  {
    Result<PidRegistry> reg = PidRegistry::Open(path);
    ASSERT_TRUE(reg.ok()) << reg.message();
    ASSERT_TRUE(reg->Add(left->pid()).ok());
    ASSERT_TRUE(reg->AddWithStartTime(stranger->pid(), stranger_start + 1).ok());
    ASSERT_TRUE(reg->AddWithStartTime(INT_MAX, 1).ok());  // long gone
  }
  const pid_t leader = left->Release();

  Result<PidRegistry> reg = PidRegistry::Open(path);
  ASSERT_TRUE(reg.ok()) << reg.message();
  EXPECT_EQ(3u, reg->size());
  Result<int> ended = reg->ReapLeftovers();
  ASSERT_TRUE(ended.ok()) << ended.message();
  EXPECT_EQ(1, *ended);

  const std::optional<int> st = WaitAndReap(leader);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGTERM);
  // The shell may have reaped its child itself before dying; otherwise it came to us (subreaper).
  if (const std::optional<int> mst = WaitAndReap(member)) {
    EXPECT_TRUE(WIFSIGNALED(*mst) && WTERMSIG(*mst) == SIGTERM);
  }
  EXPECT_TRUE(Gone(member));
  EXPECT_FALSE(stranger->TryReap().has_value());
  EXPECT_NE('Z', ReadProcStat(stranger->pid()).value_or(ProcStat{.state = 'Z'}).state);
  EXPECT_EQ(0u, reg->size());
  EXPECT_EQ("", PidRegistry::Open(path)->Render());
}

TEST(PidRegistry, ReapLeftoversEscalatesToSigkill) {
  TempDir dir;
  Result<ChildProcess> stubborn =
      ChildProcess::Spawn(Command({"bash", "-c", "trap '' TERM; echo ready; exec sleep 1000"}));
  ASSERT_TRUE(stubborn.ok()) << stubborn.message();
  ASSERT_EQ("ready", ReadLine(stubborn->stdout_fd()).value_or("timeout"));
  {
    Result<PidRegistry> reg = PidRegistry::Open(dir / "pids.db");
    ASSERT_TRUE(reg->Add(stubborn->pid()).ok());
  }
  const pid_t pid = stubborn->Release();
  Result<int> ended = PidRegistry::Open(dir / "pids.db")->ReapLeftovers(std::chrono::milliseconds(100));
  ASSERT_TRUE(ended.ok()) << ended.message();
  EXPECT_EQ(1, *ended);
  const std::optional<int> st = WaitAndReap(pid);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGKILL);
}

TEST(PidRegistry, ZombieLeaderWithNoLiveMembersIsNotCounted) {
  TempDir dir;
  Result<ChildProcess> done = ChildProcess::Spawn(Command({"true"}));
  ASSERT_TRUE(done.ok()) << done.message();
  ASSERT_TRUE(testing::WaitForExit(*done).has_value());  // a zombie until the handle ends
  Result<PidRegistry> reg = PidRegistry::Open(dir / "pids.db");
  ASSERT_TRUE(reg->Add(done->pid()).ok());
  Result<int> ended = reg->ReapLeftovers();
  ASSERT_TRUE(ended.ok()) << ended.message();
  EXPECT_EQ(0, *ended);
}

}  // namespace
}  // namespace titan::exec
