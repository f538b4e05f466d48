#include "security/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "base/test_dir.h"

namespace titan::security {
namespace {

TEST(SecretBox, ASealOpensWithItsKeyOnlyAndHidesThePlaintext) {
  titan::testing::TempDir dir;
  const SecretBox box = SecretBox::Load(dir / "secrets.key", /*create=*/true).value();
  const std::string sealed = box.Seal("API_KEY=hunter2-hunter2");
  EXPECT_TRUE(SecretBox::IsSealed(sealed));
  EXPECT_EQ(std::string::npos, sealed.find("hunter2"));
  EXPECT_NE(sealed, box.Seal("API_KEY=hunter2-hunter2"));  // a fresh nonce each time
  EXPECT_EQ("API_KEY=hunter2-hunter2", box.Open(sealed).value());

  const SecretBox other = SecretBox::FromKey(std::string(32, 'x'));
  EXPECT_FALSE(other.Open(sealed).ok());
  std::string damaged = sealed;
  damaged.back() ^= 1;
  EXPECT_FALSE(box.Open(damaged).ok());
  EXPECT_FALSE(box.Open(sealed.substr(0, 20)).ok());
  EXPECT_FALSE(box.Open("\x81\xa1x").ok());
}

TEST(SecretBox, TheKeyFileIsMadeOnce0600AndReadBack) {
  titan::testing::TempDir dir;
  const std::string path = dir / "secrets.key";
  EXPECT_EQ(Status::Code::kNotFound, SecretBox::Load(path, /*create=*/false).status().code());
  const std::string sealed = SecretBox::Load(path, true).value().Seal("v");
  struct stat st {};
  ASSERT_EQ(0, ::stat(path.c_str(), &st));
  EXPECT_EQ(0600u, st.st_mode & 0777);
  EXPECT_EQ("v", SecretBox::Load(path, true).value().Open(sealed).value());
  EXPECT_EQ("v", SecretBox::Load(path, false).value().Open(sealed).value());
}

TEST(SecretBox, AMalformedKeyFileIsAnErrorNotANewKey) {
  titan::testing::TempDir dir;
  const std::string path = dir / "secrets.key";
  std::ofstream(path) << "not a key\n";
  Result<SecretBox> box = SecretBox::Load(path, /*create=*/true);
  ASSERT_FALSE(box.ok());
  EXPECT_NE(std::string::npos, box.message().find("restore it from a backup")) << box.message();
}

}  // namespace
}  // namespace titan::security
