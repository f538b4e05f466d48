#include "worker/runtimes.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/test_dir.h"

namespace titan::exec {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

void MakeExecutable(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "#!/bin/sh\n";
  fs::permissions(path, fs::perms::owner_all);
}

TEST(Runtimes, AnEnvironmentDirectoryPutsItsBinFirstAndRunsItsPython) {
  TempDir dir;
  MakeExecutable(dir / "venv/bin/python3");
  MakeExecutable(dir / "venv/bin/tool");
  Result<Runtime> r = ParseRuntime("py=" + dir / "venv/");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ("py", r->name);
  EXPECT_EQ(dir / "venv", r->path);
  EXPECT_EQ(dir / "venv/bin", r->bin_dir);
  EXPECT_EQ(dir / "venv/bin/python3", r->python);
  EXPECT_TRUE(r->environment);

  std::vector<std::string> env{"PATH=/usr/bin:/bin", "HOME=/root"};
  AddRuntimeEnvironment(*r, env);
  EXPECT_EQ((std::vector<std::string>{"HOME=/root", "PATH=" + dir / "venv/bin" + ":/usr/bin:/bin",
                                      "VIRTUAL_ENV=" + dir / "venv", "TITAN_RUNTIME=py"}),
            env);
  // The runtime's bin comes before the worker's PATH; python is the runtime's.
  EXPECT_EQ(dir / "venv/bin/tool", *ResolveCommand("tool", &*r, "/usr/bin/python3", env, dir.path()));
  EXPECT_EQ(dir / "venv/bin/python3", *ResolveCommand("python", &*r, "/usr/bin/python3", env, dir.path()));
  EXPECT_TRUE(ResolveCommand("sh", &*r, "", env, dir.path()).ok());  // then the worker's PATH
}

TEST(Runtimes, AnInterpreterFileRunsScriptsItself) {
  TempDir dir;
  MakeExecutable(dir / "opt/py311/bin/python3.11");
  Result<Runtime> r = ParseRuntime("python-3.11=" + dir / "opt/py311/bin/python3.11");
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_EQ(dir / "opt/py311/bin/python3.11", r->python);
  EXPECT_EQ(dir / "opt/py311/bin", r->bin_dir);
  EXPECT_FALSE(r->environment);
  std::vector<std::string> env{"PATH=/usr/bin:/bin"};
  EXPECT_EQ(r->python, *ResolveCommand("python3", &*r, "/usr/bin/python3", env, dir.path()));
}

TEST(Runtimes, BadFlagsSayWhatToFix) {
  TempDir dir;
  EXPECT_NE(std::string::npos, ParseRuntime("nopath").message().find("is not NAME=PATH"));
  EXPECT_NE(std::string::npos, ParseRuntime("bad name=/bin").message().find("the name must be"));
  EXPECT_NE(std::string::npos, ParseRuntime("x=" + dir / "missing").message().find("neither a directory"));
  Result<std::map<std::string, Runtime>> twice = ParseRuntimes({"a=" + dir.path(), "a=" + dir.path()});
  EXPECT_NE(std::string::npos, twice.message().find("given twice"));
}

TEST(Commands, AreFoundOnPathOrRelativeToTheJobDirectory) {
  TempDir dir;
  MakeExecutable(dir / "bin/hello");
  MakeExecutable(dir / "job/run.sh");
  std::vector<std::string> env{"PATH=" + dir / "bin"};
  EXPECT_EQ(dir / "bin/hello", *ResolveCommand("hello", nullptr, "", env, dir / "job"));
  EXPECT_EQ(dir / "job/./run.sh", *ResolveCommand("./run.sh", nullptr, "", env, dir / "job"));
  // No "python" anywhere: the worker's own Python.
  EXPECT_EQ("/w/python3", *ResolveCommand("python", nullptr, "/w/python3", env, dir / "job"));
  Result<std::string> missing = ResolveCommand("nosuch", nullptr, "", env, dir / "job");
  EXPECT_EQ(
      "command 'nosuch' was not found on the worker's PATH; install it there, give its absolute path, or "
      "choose a runtime that has it",
      missing.message());
  EXPECT_FALSE(ResolveCommand("./missing.sh", nullptr, "", env, dir / "job").ok());
}

}  // namespace
}  // namespace titan::exec
