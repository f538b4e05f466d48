// ForkServer(s) against a real interpreter with the checkout's titan_sdk: a forked job is our child in
// its own group with the cold path's exit statuses and output, even when it ends before we learn its
// pid; a killed server is replaced; an interpreter without titan_sdk stays cold.
#include "worker/fork_server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include "schemas/cpp/test_paths.h"
#include "worker/exec_test_util.h"

namespace titan::exec {
namespace {

using testing::BecomeSubreaper;
using testing::ReadToEof;
using testing::TempDir;
using testing::WaitForExit;

// The checkout's venv (tests/run_all.sh makes it): it has pyzmq and msgpack for titan_sdk.
const std::string kPython = titan::testing::SourcePath(".venv/bin/python");

class ForkServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kPython.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << kPython;
    BecomeSubreaper();  // as the worker is: the forked job is re-parented to us
  }

  SpawnSpec Job(const std::string& body, std::vector<std::string> args = {}) {
    const std::string script = dir_ / ("job" + std::to_string(++scripts_) + ".py");
    std::ofstream(script) << body;
    SpawnSpec spec;
    spec.argv = {kPython, script};
    spec.argv.insert(spec.argv.end(), args.begin(), args.end());
    spec.env = {"PATH=/usr/bin:/bin", "PYTHONPATH=" + titan::testing::SourcePath("sdk/python"),
                "PYTHONUNBUFFERED=1", "JOB_VALUE=" + std::to_string(scripts_)};
    spec.cwd = dir_.path();
    return spec;
  }

  // Spawns until a server forks the job. An error means "start it cold" (the worker would): the first
  // calls start the server, a call that finds it dead starts another.
  Result<ChildProcess> SpawnWarm(const SpawnSpec& spec) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      Result<ChildProcess> child = servers_.Spawn(kPython, spec);
      if (child.ok() || std::chrono::steady_clock::now() > deadline) return child;
      if (child.message().starts_with("warm starts are off")) return child;
      ::usleep(10000);  // the server imports titan_sdk; nothing to wait on from here
    }
  }

  // Spawns `spec` with `python` until the answer is no longer "its fork server is starting"; that answer
  // (every call must refuse: the interpreter cannot serve). "" when a call was not refused.
  std::string SettledRefusal(const std::string& python, const SpawnSpec& spec) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      Result<ChildProcess> child = servers_.Spawn(python, spec);
      if (child.ok()) return "";
      last = child.message();
      if (last.find("starting") == std::string::npos) break;
      ::usleep(10000);  // the server starts; nothing to wait on from here
    }
    return last;
  }

  // A job of the interpreter script `python` is refused a warm start because it cannot import titan_sdk,
  // and so is every later one.
  void ExpectStaysCold(const std::string& python) {
    ::chmod(python.c_str(), 0755);
    SpawnSpec spec = Job("pass\n");
    spec.argv[0] = python;
    EXPECT_EQ("the fork server cannot import titan_sdk", SettledRefusal(python, spec));
    EXPECT_EQ("warm starts are off for " + python, servers_.Spawn(python, spec).message());
  }

  pid_t ServerPid() {
    const std::vector<pid_t> pids = servers_.Pids();
    return pids.size() == 1 && servers_.Owns(pids[0]) ? pids[0] : -1;
  }

  TempDir dir_;
  int scripts_ = 0;
  ForkServers servers_{dir_.path()};
};

TEST_F(ForkServerTest, AForkedJobRunsItsScriptAsMainInItsOwnGroup) {
  Result<ChildProcess> child = SpawnWarm(Job(
      "import os, sys\n"
      "print(__name__, sys.argv[1:], os.environ['JOB_VALUE'], os.getcwd() == os.path.dirname(__file__))\n"
      "print('titan_sdk' in sys.modules, os.getpgid(0) == os.getpid(), os.getppid() == int(sys.argv[1]))\n"
      "sys.exit(3)\n",
      {std::to_string(::getpid())}));
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ("__main__ ['" + std::to_string(::getpid()) + "'] 1 True\nTrue True True\n",
            ReadToEof(child->stdout_fd()).value_or("timeout"));
  const std::optional<ExitStatus> st = WaitForExit(*child);
  ASSERT_TRUE(st);
  EXPECT_EQ("exit code 3", st->Render());
}

TEST_F(ForkServerTest, AJobThatEndsBeforeWeLearnItsPidKeepsItsStatus) {
  Result<ChildProcess> child = SpawnWarm(Job("import os\nos._exit(5)\n"));
  ASSERT_TRUE(child.ok()) << child.message();
  const std::optional<ExitStatus> st = WaitForExit(*child);
  ASSERT_TRUE(st);
  EXPECT_EQ("exit code 5", st->Render());
}

TEST_F(ForkServerTest, UncaughtExceptionsAndSignalsEndTheJobAsTheyWouldCold) {
  Result<ChildProcess> raised = SpawnWarm(Job("raise ValueError('boom')\n"));
  ASSERT_TRUE(raised.ok()) << raised.message();
  const std::string err = ReadToEof(raised->stderr_fd()).value_or("timeout");
  EXPECT_EQ(0u, err.find("Traceback (most recent call last):\n  File \"")) << err;
  EXPECT_EQ(std::string::npos, err.find("_fork_server")) << err;  // none of our frames
  EXPECT_NE(std::string::npos, err.find("ValueError: boom")) << err;
  EXPECT_EQ("exit code 1", WaitForExit(*raised).value_or(ExitStatus{}).Render());

  Result<ChildProcess> interrupted = SpawnWarm(Job("raise KeyboardInterrupt\n"));
  ASSERT_TRUE(interrupted.ok()) << interrupted.message();
  EXPECT_EQ("killed by SIGINT (signal 2)", WaitForExit(*interrupted).value_or(ExitStatus{}).Render());

  Result<ChildProcess> killed = SpawnWarm(Job("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n"));
  ASSERT_TRUE(killed.ok()) << killed.message();
  EXPECT_EQ("killed by SIGTERM (signal 15)", WaitForExit(*killed).value_or(ExitStatus{}).Render());
}

TEST_F(ForkServerTest, AKilledServerIsReplacedAndItsJobStartsCold) {
  Result<ChildProcess> first = SpawnWarm(Job("pass\n"));
  ASSERT_TRUE(first.ok()) << first.message();
  const pid_t server = ServerPid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(0, ::kill(server, SIGKILL));
  Result<ChildProcess> next = SpawnWarm(Job("pass\n"));
  ASSERT_TRUE(next.ok()) << next.message();
  EXPECT_NE(server, ServerPid());
  EXPECT_EQ("exit code 0", WaitForExit(*next).value_or(ExitStatus{}).Render());
}

TEST_F(ForkServerTest, APrewarmedServerServesTheJobsOfItsEnvironmentAndOnlyThose) {
  const SpawnSpec plain = Job("pass\n");
  servers_.Prewarm(kPython, plain.env);
  const pid_t server = ServerPid();
  ASSERT_GT(server, 0);  // started before any job asked
  servers_.Prewarm(kPython, plain.env);
  EXPECT_EQ(server, ServerPid());                        // once per key
  Result<ChildProcess> warm = SpawnWarm(Job("pass\n"));  // other variables, same startup ones
  ASSERT_TRUE(warm.ok()) << warm.message();
  EXPECT_EQ(server, ServerPid());  // forked from the prewarmed server: no second one started
  EXPECT_EQ("exit code 0", WaitForExit(*warm).value_or(ExitStatus{}).Render());
  SpawnSpec other = Job("pass\n");
  other.env.push_back("PYTHONHASHSEED=7");  // a startup variable the server was not started with
  EXPECT_EQ("its fork server is starting", servers_.Spawn(kPython, other).message());
  EXPECT_EQ(2u, servers_.Pids().size());
}

TEST_F(ForkServerTest, AnInterpreterWithoutTitanSdkStaysCold) {
  // A stand-in interpreter that answers as the server does when titan_sdk cannot be imported.
  const std::string fake = dir_ / "python";
  std::ofstream(fake) << "#!/bin/sh\nexec " << kPython
                      << " -c 'import socket; socket.socket(fileno=0).sendall(b\"{\\\"error\\\": "
                         "\\\"cannot import titan_sdk: nope\\\"}\")'\n";
  ExpectStaysCold(fake);
}

TEST_F(ForkServerTest, AnInterpreterThatCannotFindTitanSdkIsToldAndStaysCold) {
  // A real interpreter without site-packages: `python -m titan_sdk._fork_server` fails before the
  // server's own code runs, so the server never says why; its log does.
  const std::string bare = dir_ / "python";
  std::ofstream(bare) << "#!/bin/sh\nexec " << kPython << " -I -S \"$@\"\n";
  ExpectStaysCold(bare);  // told why: not "it said something unexpected"
}

TEST(ForkServer, AServerThatEndsBeforeItIsReadyFailsNamingItsLog) {
  TempDir dir;
  const std::string log = dir / "fork-server.log";
  Result<ForkServer> server = ForkServer::Start("/bin/false", {"PATH=/usr/bin:/bin"}, log);
  ASSERT_TRUE(server.ok()) << server.message();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (server->Poll() == ForkServer::State::kStarting && std::chrono::steady_clock::now() < deadline)
    ::usleep(1000);
  ASSERT_EQ(ForkServer::State::kFailed, server->Poll());
  EXPECT_FALSE(server->import_failed());
  EXPECT_NE(std::string::npos, server->failure().find("it ended before it was ready")) << server->failure();
  EXPECT_NE(std::string::npos, server->failure().find(log)) << server->failure();
}

}  // namespace
}  // namespace titan::exec
