#include "base/relative_path.h"

#include <gtest/gtest.h>

#include "base/volume_mount.h"

namespace titan {
namespace {

TEST(RelativePath, AcceptsPathsInsideTheDirectory) {
  for (const char* ok : {"a", "a/b/c.py", "./x", "a/./b", "dir/", "..a", "a..", "a/..b/c"})
    EXPECT_EQ("", RelativePathProblem(ok)) << ok;
}

TEST(RelativePath, RefusesEscapesWithTheReason) {
  EXPECT_EQ("the path is empty", RelativePathProblem(""));
  EXPECT_EQ("'/etc/passwd' is absolute; give a path relative to the job directory",
            RelativePathProblem("/etc/passwd"));
  EXPECT_EQ("'..' leaves the job directory (a '..' component); give a path inside it",
            RelativePathProblem(".."));
  EXPECT_NE("", RelativePathProblem("a/../../b"));
  EXPECT_NE("", RelativePathProblem("a/.."));
  EXPECT_NE("", RelativePathProblem(std::string("a\nb")));
  EXPECT_NE("", RelativePathProblem(std::string(5000, 'a')));
}

TEST(VolumeMount, ParsesNameAndPathIntoALinkName) {
  Result<VolumeMount> m = ParseVolumeMount("data:/data");
  ASSERT_TRUE(m.ok()) << m.message();
  EXPECT_EQ("data", m->name);
  EXPECT_EQ("/data", m->path);
  EXPECT_EQ("data", m->link);
  EXPECT_EQ("mnt/cache", ParseVolumeMount("c-1:/mnt/cache/")->link);
  EXPECT_EQ("TITAN_VOLUME_C_1", VolumeEnvName("c-1"));
}

TEST(VolumeSize, TakesBytesAndUnitsOf1024) {
  EXPECT_EQ(1073741824, ParseVolumeSize("1GB").value());
  EXPECT_EQ(500 * 1048576LL, ParseVolumeSize("500MB").value());
  EXPECT_EQ(500 * 1048576LL, ParseVolumeSize("500mib").value());
  EXPECT_EQ(2048, ParseVolumeSize("2K").value());
  EXPECT_EQ(4096, ParseVolumeSize("4096").value());
  for (const char* bad : {"", "GB", "1.5GB", "-1", "0", "1XB", "2048TB"})
    EXPECT_FALSE(ParseVolumeSize(bad).ok()) << bad;
}

TEST(VolumeMount, RefusesWhatCannotBeMounted) {
  EXPECT_NE(std::string::npos, ParseVolumeMount("data").message().find("is not NAME:/path"));
  EXPECT_NE(std::string::npos, ParseVolumeMount("data:rel").message().find("must be absolute"));
  EXPECT_NE(std::string::npos, ParseVolumeMount("data:/").message().find("cannot be '/'"));
  EXPECT_NE(std::string::npos, ParseVolumeMount("data:/a/../..").message().find("'..'"));
  EXPECT_NE(std::string::npos, ParseVolumeMount("../x:/d").message().find("volume name"));
  EXPECT_FALSE(CheckVolumeName(".hidden").ok());
  EXPECT_FALSE(CheckVolumeName(std::string(65, 'a')).ok());
}

}  // namespace
}  // namespace titan
