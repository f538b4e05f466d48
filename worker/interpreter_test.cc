// Interpreter choice per extension, shell-like argument splitting, and the one-time Python resolution.
#include "worker/interpreter.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "worker/child_process.h"
#include "worker/exec_test_util.h"
#include "worker/shell_words.h"

namespace titan::exec {
namespace {

using testing::Command;
using testing::ReadToEof;
using testing::TempDir;
using testing::WaitForExit;

// "[a][b c]" for the words, or "error: <message>".
std::string Render(const Result<std::vector<std::string>>& words) {
  if (!words.ok()) return "error: " + words.message();
  std::string out;
  for (const std::string& w : *words) out += "[" + w + "]";
  return out;
}

std::string Split(std::string_view text) { return Render(SplitArgs(text)); }

TEST(SplitArgs, SplitsLikeAShellWithoutExpanding) {
  EXPECT_EQ("", Split(""));
  EXPECT_EQ("", Split("  \t\n "));
  EXPECT_EQ("[a][b]", Split("a b"));
  EXPECT_EQ("[a][b]", Split("  a \t  b  "));
  EXPECT_EQ("[a b][c d]", Split("'a b' \"c d\""));
  EXPECT_EQ("[ab cd]", Split("a'b c'd"));
  EXPECT_EQ("[][x][]", Split("'' x \"\""));
  EXPECT_EQ("[a\"b][a\\b][$][`][a\\zb]", Split(R"("a\"b" "a\\b" "\$" "\`" "a\zb")"));
  EXPECT_EQ("[a\\b]", Split(R"('a\b')"));
  EXPECT_EQ("[it's]", Split(R"("it's")"));
  EXPECT_EQ("[say \"hi\"]", Split(R"('say "hi"')"));
  EXPECT_EQ("[a b][c]", Split(R"(a\ b c)"));
  EXPECT_EQ("[$HOME][~][*.py][$(rm -rf x)]", Split("$HOME ~ *.py '$(rm -rf x)'"));
  EXPECT_EQ("[--name=two words]", Split("--name='two words'"));
}

TEST(SplitArgs, BrokenQuotingIsAnError) {
  EXPECT_EQ("error: unterminated single quote in arguments: a 'b c", Split("a 'b c"));
  EXPECT_EQ("error: unterminated double quote in arguments: \"b c\\\"", Split(R"("b c\")"));
  EXPECT_EQ("error: trailing backslash in arguments: a\\", Split("a\\"));
}

class CommandForTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"job.py", "job.sh", "job.jar", "JOB.PY", "tool", "notes.txt", "-odd.py"}) {
      std::ofstream(dir_ / name) << "#!/bin/sh\necho ran\n";
    }
    ::chmod((dir_ / "tool").c_str(), 0755);
    tools_.python = "/opt/py/bin/python3.12";
  }
  std::string Command(const std::string& file, std::string_view args = "") {
    return Render(CommandFor(file, args, tools_));
  }
  TempDir dir_;
  Toolchain tools_;
};

TEST_F(CommandForTest, PicksTheInterpreterByExtension) {
  EXPECT_EQ("[/opt/py/bin/python3.12][" + (dir_ / "job.py") + "]", Command(dir_ / "job.py"));
  EXPECT_EQ("[/opt/py/bin/python3.12][" + (dir_ / "JOB.PY") + "]", Command(dir_ / "JOB.PY"));
  EXPECT_EQ("[bash][" + (dir_ / "job.sh") + "]", Command(dir_ / "job.sh"));
  EXPECT_EQ("[java][-jar][" + (dir_ / "job.jar") + "]", Command(dir_ / "job.jar"));
  EXPECT_EQ("[" + (dir_ / "tool") + "]", Command(dir_ / "tool"));
}

TEST_F(CommandForTest, AppendsSplitArguments) {
  EXPECT_EQ("[/opt/py/bin/python3.12][" + (dir_ / "job.py") + "][--n][3][two words]",
            Command(dir_ / "job.py", "--n 3 'two words'"));
  EXPECT_EQ("[java][-jar][" + (dir_ / "job.jar") + "][8081]", Command(dir_ / "job.jar", "8081"));
  EXPECT_EQ("error: unterminated double quote in arguments: \"x", Command(dir_ / "job.sh", "\"x"));
}

TEST_F(CommandForTest, RelativePathsBecomeAbsoluteSoTheJobsCwdDoesNotMatter) {
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  EXPECT_EQ("[" + (dir_ / "tool") + "]", Command("tool"));  // never looked up on PATH
  EXPECT_EQ("[/opt/py/bin/python3.12][" + (dir_ / "-odd.py") + "]", Command("-odd.py"));  // not an option
  EXPECT_EQ("[bash][" + (dir_ / "job.sh") + "]", Command("./job.sh"));
  std::filesystem::current_path(before);
}

TEST_F(CommandForTest, UnrunnableFilesAreReadableErrors) {
  EXPECT_EQ("error: cannot run job file '" + (dir_ / "notes.txt") +
                "': it is not executable and has no known extension (.py .sh .jar); "
                "make it executable (chmod +x) or rename it",
            Command(dir_ / "notes.txt"));
  EXPECT_EQ("error: cannot use job file '" + (dir_ / "gone.py") + "': No such file or directory",
            Command(dir_ / "gone.py"));
  EXPECT_EQ("error: cannot use job file '" + dir_.path() + "': Is a directory", Command(dir_.path()));
}

TEST_F(CommandForTest, ShellJobRunsWithItsArguments) {
  std::ofstream(dir_ / "echo.sh") << "printf '<%s>' \"$@\"\n";
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(dir_.path());
  Result<std::vector<std::string>> argv = CommandFor("echo.sh", "a 'b c' \"d\"", tools_);
  std::filesystem::current_path(before);
  ASSERT_TRUE(argv.ok()) << argv.message();
  SpawnSpec spec = testing::Command(*argv);
  spec.cwd = "/";  // elsewhere than the script
  Result<ChildProcess> child = ChildProcess::Spawn(spec);
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ("<a><b c><d>", ReadToEof(child->stdout_fd()).value_or("timeout"));
  EXPECT_EQ("exit code 0", WaitForExit(*child).value_or(ExitStatus{}).Render());
}

TEST(ResolveToolchain, TitanPythonWins) {
  const Toolchain tools = ResolveToolchain({"PATH=/nonexistent", "TITAN_PYTHON=/custom/python"});
  EXPECT_EQ("/custom/python", tools.python);
  EXPECT_EQ("bash", tools.bash);
  EXPECT_EQ("java", tools.java);
}

TEST(ResolveToolchain, FindsBashOnThePathOnce) {
  const Toolchain tools = ResolveToolchain({"PATH=relative:/nonexistent:/usr/bin:/bin", "TITAN_PYTHON=/p"});
  EXPECT_TRUE(tools.bash == "/usr/bin/bash" || tools.bash == "/bin/bash") << tools.bash;
  EXPECT_EQ("bash", ResolveToolchain({"PATH=/nonexistent", "TITAN_PYTHON=/p"}).bash);
}

TEST(ResolveToolchain, FallsBackToPython3WhenNothingAnswers) {
  EXPECT_EQ("python3", ResolveToolchain({"PATH=/nonexistent"}).python);
  EXPECT_EQ("python3", ResolveToolchain({"PATH=/nonexistent", "TITAN_PYTHON="}).python);
}

TEST(ResolveToolchain, FindsTheRealInterpreterBehindPython3) {
  if (!ChildProcess::Spawn(Command({"python3", "-c", ""})).ok()) GTEST_SKIP() << "no python3 on PATH";
  const std::string python = ResolveToolchain(CurrentEnvironment()).python;
  ASSERT_TRUE(python.starts_with("/")) << python;
  EXPECT_EQ(0, ::access(python.c_str(), X_OK)) << python;
  // It is the interpreter itself, not a shim: asked again, it names itself.
  Result<ChildProcess> child =
      ChildProcess::Spawn(Command({python, "-c", "import sys; print(sys.executable)"}));
  ASSERT_TRUE(child.ok()) << child.message();
  EXPECT_EQ(python + "\n", ReadToEof(child->stdout_fd()).value_or("timeout"));
}

}  // namespace
}  // namespace titan::exec
