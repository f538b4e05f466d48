// PlaceShared: one script name in the shared folder, safe when two different scripts of that name run
// at once (each lock is a separate open file description, as two workers' would be).
#include "worker/shared_script.h"

#include <gtest/gtest.h>

#include <fstream>

#include "worker/exec_test_util.h"

namespace titan::exec {
namespace {

using testing::TempDir;

std::string Write(const TempDir& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir / name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(PlaceShared, PutsTheScriptInTheSharedFolderUnderItsName) {
  TempDir dir;
  const std::string v1 = Write(dir, "v1", "print(1)\n");
  auto placed = PlaceShared(v1, dir.path(), "step.py");
  ASSERT_TRUE(placed.ok()) << placed.message();
  EXPECT_EQ((dir / "step.py"), placed->path);
  EXPECT_EQ("print(1)\n", Read(placed->path));
  EXPECT_TRUE(placed->lock.valid());
}

TEST(PlaceShared, TheSameScriptRunsTwiceAtOnceFromOneFile) {
  TempDir dir;
  const std::string v1 = Write(dir, "v1", "print(1)\n");
  auto first = PlaceShared(v1, dir.path(), "step.py");
  auto second = PlaceShared(Write(dir, "v1-again", "print(1)\n"), dir.path(), "step.py");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->path, second->path);
}

TEST(PlaceShared, ADifferentScriptOfTheSameNameNeverReplacesOneInUse) {
  TempDir dir;
  auto first = PlaceShared(Write(dir, "v1", "print(1)\n"), dir.path(), "step.py");
  ASSERT_TRUE(first.ok());
  auto second = PlaceShared(Write(dir, "v2", "print(2)\n"), dir.path(), "step.py");
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_EQ("", second->path);  // the caller runs it from the job's own folder
  EXPECT_EQ("print(1)\n", Read(first->path));
  // Once the first has ended, the next one replaces it.
  first->lock.Reset();
  auto third = PlaceShared(Write(dir, "v3", "print(3)\n"), dir.path(), "step.py");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((dir / "step.py"), third->path);
  EXPECT_EQ("print(3)\n", Read(third->path));
}

TEST(PlaceShared, AnUnwritableSharedFolderIsAnErrorNamingIt) {
  TempDir dir;
  Write(dir, "v1", "x");
  Write(dir, "blocker", "");  // a file where the shared folder should be
  auto blocked = PlaceShared((dir / "v1"), (dir / "blocker"), "step.py");
  ASSERT_FALSE(blocked.ok());
  EXPECT_NE(std::string::npos, blocked.message().find("blocker"));
}

}  // namespace
}  // namespace titan::exec
