// Which .py jobs start warm, and which fork server serves them.
#include "worker/warm_start.h"

#include <gtest/gtest.h>

namespace titan::exec {
namespace {

std::string Render(const WarmChoice& c) { return c.warm ? "warm" : "cold: " + c.reason; }

TEST(WarmStartTest, OnlyPythonScriptsRunByTheWorkersPythonStartWarm) {
  const std::string py = "/usr/bin/python3";
  EXPECT_EQ("warm", Render(ChooseStart({py, "/j/job.py"}, py, false, false)));
  EXPECT_EQ("warm", Render(ChooseStart({py, "/j/JOB.PY", "--n", "3"}, py, false, false)));
  EXPECT_EQ("cold: not a .py script run by the worker's Python",
            Render(ChooseStart({"/bin/bash", "/j/job.sh"}, py, false, false)));
  EXPECT_EQ("cold: not a .py script run by the worker's Python",
            Render(ChooseStart({py, "-c", "pass"}, py, false, false)));
  EXPECT_EQ("cold: not a .py script run by the worker's Python",
            Render(ChooseStart({"/opt/other/python", "/j/job.py"}, py, false, false)));
  EXPECT_EQ("cold: not a .py script run by the worker's Python", Render(ChooseStart({py}, py, false, false)));
  EXPECT_EQ("cold: not a .py script run by the worker's Python",
            Render(ChooseStart({py, "py"}, py, false, false)));
}

TEST(WarmStartTest, TheJobOrTheWorkerCanAskForCold) {
  const std::string py = "python3";
  EXPECT_EQ("cold: the job asked for a cold start (cold_start)",
            Render(ChooseStart({py, "/j/a.py"}, py, /*job_cold=*/true, false)));
  EXPECT_EQ("cold: the worker runs Python cold (--cold-python)",
            Render(ChooseStart({py, "/j/a.py"}, py, false, /*worker_cold=*/true)));
}

TEST(WarmStartTest, StartupVariablesAreThoseTheInterpreterReadsAsItStarts) {
  EXPECT_TRUE(IsStartupVariable("PYTHONPATH=/x"));
  EXPECT_TRUE(IsStartupVariable("PYTHONHASHSEED=0"));
  EXPECT_TRUE(IsStartupVariable("LANG=C.UTF-8"));
  EXPECT_TRUE(IsStartupVariable("LC_ALL=C"));
  EXPECT_FALSE(IsStartupVariable("PATH=/bin"));
  EXPECT_FALSE(IsStartupVariable("TITAN_JOB_ID=j"));
  EXPECT_FALSE(IsStartupVariable("MYPYTHONPATH=/x"));
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += "[" + s + "]";
  return out;
}

TEST(WarmStartTest, ServerEnvironmentHasNoSecretsAndTheLastValueWins) {
  EXPECT_EQ("[HOME=/h][PATH=/b][PYTHONPATH=/new][PYTHONUNBUFFERED=1]",
            Joined(ServerEnvironment({"PATH=/a", "HOME=/h", "PYTHONPATH=/old", "TITAN_JOB_ID=j",
                                      "TOKEN=s3cret", "PYTHONUNBUFFERED=1", "PATH=/b", "PYTHONPATH=/new"})));
}

TEST(WarmStartTest, JobsWithOtherStartupVariablesNeedAnotherServer) {
  const std::string a = ServerKey("py", {"PATH=/a", "PYTHONPATH=/x", "TITAN_JOB_ID=1"});
  EXPECT_EQ(a, ServerKey("py", {"PATH=/other", "PYTHONPATH=/x", "TITAN_JOB_ID=2", "SECRET=1"}));
  EXPECT_NE(a, ServerKey("py", {"PATH=/a", "PYTHONPATH=/y"}));
  EXPECT_NE(a, ServerKey("py", {"PATH=/a"}));
  EXPECT_NE(a, ServerKey("py2", {"PATH=/a", "PYTHONPATH=/x"}));
  EXPECT_EQ(ServerKey("py", {"PYTHONPATH=/old", "PYTHONPATH=/x"}), a);  // the last value wins
}

}  // namespace
}  // namespace titan::exec
