// Runs handed to a worker's reaper: the message round-trips; pidfds cross a real socketpair; the exit status
// of a leader that exited is read through its pidfd (as a zombie, and once reaped where the kernel keeps exit
// records), a running one has none; only leaders that exited on their own become results; the reaper keeps
// the last kMaxWatched.
#include "worker/reaper_runs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "worker/child_process.h"
#include "worker/fd_passing.h"

namespace titan::worker {
namespace {

// A forked child that exits with `code` at once (or, with code < 0, waits to be killed). It keeps none of
// our descriptors (a job execs, which closes the worker's end of the socket).
pid_t Child(int code) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int fd = 3; fd < 1024; ++fd) ::close(fd);
    if (code < 0) ::pause();
    ::_exit(code);
  }
  return pid;
}

// Waits (bounded) until `pidfd` shows its process exited, without reaping it.
bool WaitExited(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 10000) == 1;
}

// Whether this kernel keeps a reaped process's exit status for its pidfds (PIDFD_INFO_EXIT, Linux 6.15).
bool KernelKeepsExitRecords() {
  utsname u{};
  int major = 0, minor = 0;
  return ::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &major, &minor) == 2 &&
         (major > 6 || (major == 6 && minor >= 15));
}

class ReaperRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int pair[2];
    ASSERT_EQ(0, ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair));
    worker_.Reset(pair[0]);
    reaper_.Reset(pair[1]);
  }
  // Hands `pid` over as run `id` attempt 2, epoch 7, and receives it on the reaper's side.
  const WatchedRun& HandOver(pid_t pid, const std::string& id) {
    const exec::UniqueFd pidfd = exec::OpenPidFd(pid);
    EXPECT_TRUE(pidfd.valid());
    EXPECT_TRUE(SendRun(worker_.get(), id, 2, 7, pid, pidfd.get()).ok());
    EXPECT_TRUE(watched_.Receive(reaper_.get()));
    return watched_.runs().back();
  }

  exec::UniqueFd worker_, reaper_;
  WatchedRuns watched_;
};

TEST(WatchedRunMessage, RoundTripsAndRefusesWhatItIsNot) {
  Result<WatchedRun> run = DecodeWatchedRun(EncodeWatchedRun("train step 1", 3, 12, 4242));
  ASSERT_TRUE(run.ok()) << run.message();
  EXPECT_EQ("train step 1", run->id);
  EXPECT_EQ(3, run->attempt);
  EXPECT_EQ(std::optional<int64_t>(12), run->epoch);
  EXPECT_EQ(4242, run->pid);
  run = DecodeWatchedRun(EncodeWatchedRun("a", 1, std::nullopt, 9));
  ASSERT_TRUE(run.ok()) << run.message();
  EXPECT_EQ(std::nullopt, run->epoch);
  for (const char* bad :
       {"", "run 1 - 9", "run x - 9 a", "run 1 - 0 a", "run 1 e 9 a", "1 - 9 a", "acked 1 a"}) {
    EXPECT_FALSE(DecodeWatchedRun(bad).ok()) << bad;
  }
}

// Half the least time the broker waits after the worker's death (its lease plus half a beat after the last
// contact, at most a beat before the death), at most 5 s; without a lease, as for the least liveness (3).
TEST(RunsGrace, EndsBeforeTheBrokerWouldRequeueTheRuns) {
  EXPECT_EQ(500, RunsGraceMs(1000, 1500));   // liveness 3: the lease is 1.5 beats
  EXPECT_EQ(300, RunsGraceMs(200, 700));     // liveness 5 at 200 ms
  EXPECT_EQ(4000, RunsGraceMs(1000, 8500));  // the broker's defaults: liveness 10
  EXPECT_EQ(5000, RunsGraceMs(1000, 60000));
  EXPECT_EQ(250, RunsGraceMs(1000, 0));
  EXPECT_EQ(0, RunsGraceMs(0, 0));
}

TEST_F(ReaperRunsTest, TheWorkerSaysHowLongRunsMayFinish) {
  EXPECT_EQ(std::nullopt, watched_.grace_ms());
  ASSERT_TRUE(SendGrace(worker_.get(), 300).ok());
  ASSERT_TRUE(exec::SendWithFds(worker_.get(), "grace soon", {}) == 0);  // not a number: ignored
  ASSERT_TRUE(watched_.Receive(reaper_.get()));
  EXPECT_EQ(std::optional<int64_t>(300), watched_.grace_ms());
}

TEST_F(ReaperRunsTest, AnExitedLeadersStatusIsReadAsAZombieAndOnceReaped) {
  const pid_t pid = Child(3);
  const WatchedRun& run = HandOver(pid, "a");
  EXPECT_EQ("a", run.id);
  ASSERT_TRUE(WaitExited(run.pidfd.get()));
  std::optional<int> status = ExitOf(run);  // a zombie: nobody waited for it yet
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(3, WEXITSTATUS(*status));
  int reaped = 0;
  ASSERT_EQ(pid, ::waitpid(pid, &reaped, 0));
  status = ExitOf(run);
  if (KernelKeepsExitRecords()) {
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(reaped, *status);
  } else {
    EXPECT_FALSE(status.has_value());  // gone without a record: not knowable, so not reported
  }
}

TEST_F(ReaperRunsTest, ARunningLeaderHasNoStatusAndAKilledOneIsNotAResult) {
  const pid_t pid = Child(-1);
  const WatchedRun& running = HandOver(pid, "slow");
  EXPECT_FALSE(ExitOf(running).has_value());
  ASSERT_EQ(0, ::kill(pid, SIGKILL));
  ASSERT_TRUE(WaitExited(running.pidfd.get()));
  const std::optional<int> killed = ExitOf(running);
  ASSERT_TRUE(killed.has_value());
  EXPECT_TRUE(WIFSIGNALED(*killed));
  const pid_t done = Child(0);
  const WatchedRun& finished = HandOver(done, "done");
  ASSERT_TRUE(WaitExited(finished.pidfd.get()));
  const std::optional<int> ok = ExitOf(finished);
  ASSERT_TRUE(ok.has_value());
  const std::vector<wire::JobResult> results = ResultsOf({{&running, *killed}, {&finished, *ok}});
  ASSERT_EQ(1u, results.size());  // the killed one may have died with its worker: it runs again
  EXPECT_EQ("done", results[0].id);
  EXPECT_EQ(2, results[0].attempt);
  EXPECT_EQ(0, results[0].exit_code);
  EXPECT_EQ(std::optional<int64_t>(7), results[0].epoch);
  EXPECT_EQ(std::optional<bool>(true), results[0].log_truncated);
  ::waitpid(pid, nullptr, 0);
  ::waitpid(done, nullptr, 0);
}

TEST_F(ReaperRunsTest, ARunWhoseResultTheBrokerRecordedIsNoLongerWatched) {
  const pid_t pid = Child(-1);
  HandOver(pid, "a");
  HandOver(pid, "b");
  ASSERT_TRUE(SendAcked(worker_.get(), "a", 1).ok());  // another attempt: still watched
  ASSERT_TRUE(SendAcked(worker_.get(), "a", 2).ok());
  ASSERT_TRUE(watched_.Receive(reaper_.get()));
  ASSERT_EQ(1u, watched_.runs().size());
  EXPECT_EQ("b", watched_.runs().front().id);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

TEST_F(ReaperRunsTest, TheReaperKeepsTheLastRunsAndSeesTheWorkerGo) {
  const pid_t pid = Child(-1);
  const exec::UniqueFd pidfd = exec::OpenPidFd(pid);
  ASSERT_TRUE(pidfd.valid());
  const size_t n = WatchedRuns::kMaxWatched + 5;
  for (size_t i = 0; i < n; ++i) {
    ASSERT_TRUE(SendRun(worker_.get(), "r" + std::to_string(i), 1, std::nullopt, pid, pidfd.get()).ok()) << i;
    if (i % 64 == 63) {
      ASSERT_TRUE(watched_.Receive(reaper_.get()));  // as the reaper's loop drains it
    }
  }
  ASSERT_TRUE(watched_.Receive(reaper_.get()));
  ASSERT_EQ(WatchedRuns::kMaxWatched, watched_.runs().size());
  EXPECT_EQ("r5", watched_.runs().front().id);  // the oldest went first
  EXPECT_EQ("r" + std::to_string(n - 1), watched_.runs().back().id);
  ::kill(pid, SIGKILL);  // first: until it has closed its copy of the worker's end (a fork keeps one)
  ::waitpid(pid, nullptr, 0);
  worker_.Reset();
  EXPECT_FALSE(watched_.Receive(reaper_.get()));  // the worker's end closed
}

// After the worker is gone, a run that writes more than a pipe holds still finishes: the reaper drains its
// output (the worker's read end is closed here, as a dead worker's is). One that never ends is still
// running at the deadline.
TEST_F(ReaperRunsTest, RunsFinishAfterTheWorkerWithTheirOutputDrained) {
  int out[2];
  ASSERT_EQ(0, ::pipe2(out, O_CLOEXEC | O_NONBLOCK));
  exec::UniqueFd out_r(out[0]), out_w(out[1]);
  const pid_t writer = ::fork();
  if (writer == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::execlp("sh", "sh", "-c", "head -c 1048576 /dev/zero; exit 4", nullptr);
    ::_exit(127);
  }
  out_w.Reset();
  const exec::UniqueFd pidfd = exec::OpenPidFd(writer);
  ASSERT_TRUE(pidfd.valid());
  ASSERT_TRUE(SendRun(worker_.get(), "loud", 1, std::nullopt, writer, pidfd.get(), {out_r.get(), -1}).ok());
  ASSERT_TRUE(watched_.Receive(reaper_.get()));
  ASSERT_EQ(1u, watched_.runs().back().output.size());
  out_r.Reset();  // the worker's copy: gone with the worker
  pollfd p{pidfd.get(), POLLIN, 0};
  EXPECT_EQ(0, ::poll(&p, 1, 0));  // blocked on its full pipe
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  EXPECT_EQ(0u, LetRunsFinish(watched_, deadline));
  const std::optional<int> status = ExitOf(watched_.runs().back());
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(4, WEXITSTATUS(*status));
  ::waitpid(writer, nullptr, 0);

  const pid_t endless = Child(-1);
  HandOver(endless, "endless");
  EXPECT_EQ(1u, LetRunsFinish(watched_, std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
  ::kill(endless, SIGKILL);
  ::waitpid(endless, nullptr, 0);
}

}  // namespace
}  // namespace titan::worker
