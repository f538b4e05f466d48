// Child workers: the command line a child gets, spawning with output to its log, noticing its exit,
// signalling and killing it, and ending what child workers of a previous life left behind.
#include "worker/child_workers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "worker/pid_registry.h"
#include "worker/probe_test_util.h"

namespace titan::worker {
namespace {

using exec::testing::BecomeSubreaper;
using exec::testing::Command;
using exec::testing::Gone;
using exec::testing::TempDir;
using exec::testing::WaitAndReap;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string Join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

ChildWorkerTemplate Template(const std::string& exe, const std::string& dir) {
  return ChildWorkerTemplate{.exe = exe,
                             .host = "10.0.0.5",
                             .port = 9090,
                             .parent = "w1",
                             .dir = dir,
                             .shared_dir = "/data/titan_workspace/shared",
                             .executor = "process",
                             .tags = {"gpu-a", "fast"},
                             .heartbeat_ms = 1000,
                             .kill_grace_ms = 5000,
                             .drain_grace_ms = 30000};
}

// A stand-in for the titan executable: a script doing `body` (its arguments are "$@").
std::string FakeExe(const TempDir& dir, const std::string& body) {
  const std::string path = dir / "fake-titan";
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

// Waits (on their exit descriptors) for every child to exit; returns the exits by name.
std::string AwaitExits(ChildWorkers& children) {
  const auto deadline = std::chrono::steady_clock::now() + exec::testing::kWait;
  std::map<std::string, std::string> exits;
  while (!children.empty() && testing::WaitFor(children.PollFds(), deadline)) {
    for (const auto& e : children.Reap()) exits[e.name] = e.status.Render();
  }
  std::string out;
  for (const auto& [name, how] : exits) out += name + ": " + how + "; ";
  return out;
}

TEST(ChildWorkerArgv, RunsThisExecutableAsAWorkerOfTheSameBrokerWithTheParentsOptions) {
  EXPECT_EQ(
      "/usr/bin/titan worker --host 10.0.0.5 --port 9090 --name w1-c1 --slots 3 --dir "
      "/data/w1/children/w1-c1 --shared-dir /data/titan_workspace/shared "
      "--parent w1 --executor process --tag gpu-a --tag fast --heartbeat-ms 1000 --kill-grace-ms 5000 "
      "--drain-grace-ms 30000",
      Join(ChildWorkerArgv(Template("/usr/bin/titan", "/data/w1"), {"w1-c1", 3})));
}

TEST(ChildWorkerArgv, AWorkerAddedByAnOperatorGetsItsCapabilityAndAddressPort) {
  EXPECT_EQ(
      "/usr/bin/titan worker --host 10.0.0.5 --port 9090 --name worker-8081 --slots 4 --dir "
      "/data/w1/children/worker-8081 --shared-dir /data/titan_workspace/shared --parent w1 --executor "
      "process --tag gpu-a --tag fast --tag GPU "
      "--address-port 8081 --heartbeat-ms 1000 --kill-grace-ms 5000 --drain-grace-ms 30000",
      Join(ChildWorkerArgv(
          Template("/usr/bin/titan", "/data/w1"),
          {.name = "worker-8081", .slots = 4, .tags = {"GPU"}, .port = 8081, .manual = true})));
}

TEST(ChildWorkerArgv, AChildOffersTheParentsRuntimes) {
  ChildWorkerTemplate t = Template("/usr/bin/titan", "/data/w1");
  t.runtimes = {"py=/opt/venv", "sys=/usr/bin/python3"};
  EXPECT_NE(std::string::npos,
            Join(ChildWorkerArgv(t, {"w1-c1", 3}))
                .find("--tag fast --runtime py=/opt/venv --runtime sys=/usr/bin/python3 "));
}

TEST(ChildWorkerArgv, AChildOfAColdPythonWorkerRunsPythonColdToo) {
  ChildWorkerTemplate t = Template("/usr/bin/titan", "/data/w1");
  EXPECT_EQ(std::string::npos, Join(ChildWorkerArgv(t, {"w1-c1", 3})).find("--cold-python"));
  t.cold_python = true;
  EXPECT_TRUE(Join(ChildWorkerArgv(t, {"w1-c1", 3})).ends_with(" --cold-python"));
}

TEST(SelfExe, NamesThisTestExecutable) { EXPECT_NE(std::string::npos, SelfExe().find("worker_test")); }

TEST(ChildWorkers, SpawnsWithOutputInItsLogAndNoticesTheExit) {
  TempDir dir;
  ChildWorkers children(Template(FakeExe(dir, "echo \"$@\"; echo oops >&2; exit 3"), dir.path()));
  Result<pid_t> pid = children.Spawn({"c1", 2});
  ASSERT_TRUE(pid.ok()) << pid.message();
  EXPECT_TRUE(children.Owns(pid.value()));
  EXPECT_TRUE(std::filesystem::is_directory(dir / "children/c1"));
  EXPECT_EQ("c1: exit code 3; ", AwaitExits(children));
  EXPECT_FALSE(children.Owns(pid.value()));
  EXPECT_TRUE(Gone(pid.value()));  // reaped
  EXPECT_EQ("worker --host 10.0.0.5 --port 9090 --name c1 --slots 2 --dir " + dir.path() +
                "/children/c1 --shared-dir /data/titan_workspace/shared --parent w1 --executor process --tag "
                "gpu-a --tag fast --heartbeat-ms 1000 "
                "--kill-grace-ms 5000 --drain-grace-ms 30000\noops\n",
            Slurp(dir / "children/c1.log"));
}

TEST(ChildWorkers, RefusesBadAndDuplicateNames) {
  TempDir dir;
  ChildWorkers children(Template(FakeExe(dir, "exec sleep 1000"), dir.path()));
  EXPECT_EQ(
      "child worker name '../evil' is not allowed: use letters, digits, '.', '-' and '_' (not first '.')",
      children.Spawn({"../evil", 1}).message());
  EXPECT_FALSE(children.Spawn({"", 1}).ok());
  ASSERT_TRUE(children.Spawn({"c1", 1}).ok());
  EXPECT_EQ("child worker c1 is running already", children.Spawn({"c1", 1}).message());
}

TEST(ChildWorkers, SignalReachesEveryChild) {
  TempDir dir;
  ChildWorkers children(Template(FakeExe(dir, "exec sleep 1000"), dir.path()));
  ASSERT_TRUE(children.Spawn({"c1", 1}).ok());
  ASSERT_TRUE(children.Spawn({"c2", 1}).ok());
  children.Signal(SIGTERM);
  EXPECT_EQ("c1: killed by SIGTERM (signal 15); c2: killed by SIGTERM (signal 15); ", AwaitExits(children));
}

TEST(ChildWorkers, KillAllLeavesNoChildAndNoJobItStarted) {
  BecomeSubreaper();  // the killed child's job is re-parented to us, like to the real parent worker
  TempDir dir;
  // A "child worker" that starts a job in its own process group, records it in its PID registry the
  // way a worker does, then waits.
  Result<exec::ChildProcess> job = exec::ChildProcess::Spawn(Command({"sleep", "1000"}));
  ASSERT_TRUE(job.ok()) << job.message();
  std::filesystem::create_directories(dir / "children/c1");
  ASSERT_TRUE(exec::PidRegistry::Open(dir / "children/c1/pids")->Add(job->pid()).ok());
  const pid_t job_pid = job->Release();

  ChildWorkers children(Template(FakeExe(dir, "exec sleep 1000"), dir.path()));
  Result<pid_t> pid = children.Spawn({"c1", 1});
  ASSERT_TRUE(pid.ok()) << pid.message();
  const std::vector<ChildWorkers::Exit> killed = children.KillAll();
  ASSERT_EQ(1u, killed.size());
  EXPECT_EQ("c1", killed[0].name);
  EXPECT_EQ(pid.value(), killed[0].pid);
  EXPECT_TRUE(children.empty());
  EXPECT_TRUE(Gone(pid.value()));
  const std::optional<int> st = WaitAndReap(job_pid);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGTERM);
}

TEST(EndLeftoverChildren, EndsTheJobsOfChildWorkersAndTheirChildren) {
  TempDir dir;
  std::vector<pid_t> leaders;
  for (const std::string sub : {"children/c1", "children/c1/children/c2"}) {
    Result<exec::ChildProcess> job = exec::ChildProcess::Spawn(Command({"sleep", "1000"}));
    ASSERT_TRUE(job.ok()) << job.message();
    std::filesystem::create_directories(dir / sub);
    ASSERT_TRUE(exec::PidRegistry::Open(dir / (sub + "/pids"))->Add(job->pid()).ok());
    leaders.push_back(job->Release());
  }
  EXPECT_EQ(2, EndLeftoverChildren(dir / "children"));
  for (pid_t pid : leaders) {
    const std::optional<int> st = WaitAndReap(pid);
    ASSERT_TRUE(st.has_value());
    EXPECT_TRUE(WIFSIGNALED(*st) && WTERMSIG(*st) == SIGTERM);
  }
  EXPECT_EQ("", exec::PidRegistry::Open(dir / "children/c1/pids")->Render());
  EXPECT_EQ(0, EndLeftoverChildren(dir / "no-such-dir"));
}

}  // namespace
}  // namespace titan::worker
