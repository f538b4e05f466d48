#include "worker/volumes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "base/test_dir.h"

namespace titan::exec {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

TEST(Volumes, EnsureKeepsDataAndDeleteRemovesIt) {
  TempDir dir;
  const std::string vols = dir / "volumes";
  ASSERT_TRUE(EnsureVolume(vols, wire::VolumeSpec{.name = "data", .type = "filesystem"}).ok());
  std::ofstream(vols + "/data/kept") << "x";
  ASSERT_TRUE(EnsureVolume(vols, wire::VolumeSpec{.name = "data", .type = "filesystem"}).ok());  // again
  EXPECT_TRUE(fs::exists(vols + "/data/kept"));
  ASSERT_TRUE(DeleteVolume(vols, "data").ok());
  EXPECT_FALSE(fs::exists(vols + "/data"));
  EXPECT_TRUE(DeleteVolume(vols, "data").ok());  // absent: fine
  EXPECT_FALSE(DeleteVolume(vols, "../x").ok());
}

TEST(Volumes, AMemoryVolumeSaysWhenItsSizeIsNotEnforced) {
  TempDir dir;
  Result<std::string> note = EnsureVolume(
      dir / "volumes", wire::VolumeSpec{.name = "fast", .type = "memory", .size_bytes = 1 << 20});
  ASSERT_TRUE(note.ok()) << note.message();
  if (::geteuid() != 0) {
    EXPECT_NE(std::string::npos, note->find("size is not enforced"));
  }
  ASSERT_TRUE(DeleteVolume(dir / "volumes", "fast").ok());  // unmounts a tmpfs first when it made one
  EXPECT_FALSE(fs::exists(dir / "volumes/fast"));
}

TEST(Volumes, AJobGetsItsVolumeInItsEnvironmentAndAsALink) {
  TempDir dir;
  fs::create_directories(dir / "job");
  std::vector<std::string> env;
  ASSERT_TRUE(AttachVolumes(dir / "job", dir / "volumes", {"data:/data", "c-1:/mnt/cache"}, &env).ok());
  EXPECT_EQ((std::vector<std::string>{"TITAN_VOLUME_DATA=" + dir / "volumes/data",
                                      "TITAN_VOLUME_C_1=" + dir / "volumes/c-1"}),
            env);
  EXPECT_EQ(dir / "volumes/data", fs::read_symlink(dir / "job/data").string());
  EXPECT_EQ(dir / "volumes/c-1", fs::read_symlink(dir / "job/mnt/cache").string());
  // A later attempt replaces its links; an upload in the way is an error.
  env.clear();
  EXPECT_TRUE(AttachVolumes(dir / "job", dir / "volumes", {"data:/data"}, &env).ok());
  std::ofstream(dir / "job/taken") << "upload";
  Status clash = AttachVolumes(dir / "job", dir / "volumes", {"data:/taken"}, &env);
  EXPECT_NE(std::string::npos, clash.message().find("has a file or directory of that name"))
      << clash.message();
}

}  // namespace
}  // namespace titan::exec
