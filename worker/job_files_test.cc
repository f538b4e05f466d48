#include "worker/job_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/test_dir.h"

namespace titan::exec {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int ModeOf(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

TEST(Uploads, LandWithTheirContentAndExactModes) {
  TempDir dir;
  ::umask(022);
  ASSERT_TRUE(WriteUploads(dir.path(),
                           {wire::Upload{.path = "run.sh", .content = "#!/bin/sh\necho hi\n", .mode = 0755},
                            wire::Upload{.path = "conf/app.json", .content = "{}"},
                            wire::Upload{.path = "conf/secret", .content = "s", .mode = 0600},
                            wire::Upload{.path = "group", .content = "g", .mode = 0775}})
                  .ok());
  EXPECT_EQ("#!/bin/sh\necho hi\n", Read(dir / "run.sh"));
  EXPECT_EQ(0755, ModeOf(dir / "run.sh"));
  EXPECT_EQ("{}", Read(dir / "conf/app.json"));
  EXPECT_EQ(0644, ModeOf(dir / "conf/app.json"));  // the default
  EXPECT_EQ(0600, ModeOf(dir / "conf/secret"));
  EXPECT_EQ(0775, ModeOf(dir / "group"));  // the umask does not apply
}

TEST(Uploads, ReplaceAnEarlierAttemptsFile) {
  TempDir dir;
  ASSERT_TRUE(WriteUploads(dir.path(), {wire::Upload{.path = "a", .content = "first", .mode = 0444}}).ok());
  ASSERT_TRUE(WriteUploads(dir.path(), {wire::Upload{.path = "a", .content = "second"}}).ok());
  EXPECT_EQ("second", Read(dir / "a"));
  EXPECT_EQ(0644, ModeOf(dir / "a"));
}

TEST(Uploads, RefuseAbsoluteAndDotDotPaths) {
  TempDir dir;
  for (const char* bad : {"/etc/x", "../x", "a/../../x", "", "a/"}) {
    Status s = WriteUploads(dir.path(), {wire::Upload{.path = bad, .content = "x"}});
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(std::string::npos, s.message().find("upload '" + std::string(bad) + "'")) << s.message();
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Uploads, NeverFollowASymlinkOutOfTheJobDirectory) {
  TempDir dir, outside;
  fs::create_directory(dir / "job");
  fs::create_directory_symlink(outside.path(), dir / "job/escape");
  fs::create_symlink(outside / "victim", dir / "job/link");
  Status through_dir = WriteUploads(dir / "job", {wire::Upload{.path = "escape/x", .content = "x"}});
  EXPECT_FALSE(through_dir.ok());
  EXPECT_NE(std::string::npos,
            through_dir.message().find("'escape' is not a directory inside the job directory"))
      << through_dir.message();
  // A link at the file's own name is replaced, not written through.
  ASSERT_TRUE(WriteUploads(dir / "job", {wire::Upload{.path = "link", .content = "mine"}}).ok());
  EXPECT_FALSE(fs::exists(outside / "victim"));
  EXPECT_FALSE(fs::exists(outside / "x"));
  EXPECT_EQ("mine", Read(dir / "job/link"));
}

TEST(WorkDir, IsCreatedInsideTheJobDirectory) {
  TempDir dir;
  Result<std::string> cwd = MakeWorkDir(dir.path(), "src/app");
  ASSERT_TRUE(cwd.ok()) << cwd.message();
  EXPECT_EQ(dir / "src/app", *cwd);
  EXPECT_TRUE(fs::is_directory(*cwd));
  EXPECT_TRUE(MakeWorkDir(dir.path(), "src/app").ok());  // again: it exists
}

TEST(WorkDir, RefusesEscapes) {
  TempDir dir, outside;
  fs::create_directory_symlink(outside.path(), dir / "out");
  EXPECT_FALSE(MakeWorkDir(dir.path(), "/tmp").ok());
  EXPECT_FALSE(MakeWorkDir(dir.path(), "..").ok());
  Result<std::string> through = MakeWorkDir(dir.path(), "out/sub");
  EXPECT_FALSE(through.ok());
  EXPECT_FALSE(fs::exists(outside / "sub"));
}

}  // namespace
}  // namespace titan::exec
