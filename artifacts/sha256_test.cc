// Sha256, HashFile and Crc32 against known vectors, and incremental hashing against one-shot hashing.
#include "artifacts/sha256.h"

#include <gtest/gtest.h>

#include "artifacts/test_files.h"
#include "base/test_dir.h"

namespace titan::artifacts {
namespace {

using testing::RandomBytes;
using testing::WriteFile;
using titan::testing::TempDir;

constexpr char kEmpty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr char kAbc[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(kEmpty, Sha256Hex(""));
  EXPECT_EQ(kAbc, Sha256Hex("abc"));
  EXPECT_EQ(kEmpty, Sha256().HexDigest());
}

TEST(Sha256, IncrementalEqualsOneShotAndDigestDoesNotEndTheHash) {
  const std::string data = RandomBytes(100000, 1);
  Sha256 hash;
  hash.Update("a");
  EXPECT_EQ(Sha256Hex("a"), hash.HexDigest());
  hash.Update("bc");
  EXPECT_EQ(kAbc, hash.HexDigest());

  Sha256 pieces;
  for (size_t at = 0, step = 1; at < data.size(); at += step, step = step * 3 % 4097 + 1) {
    pieces.Update(std::string_view(data).substr(at, step));
  }
  Sha256 moved = std::move(pieces);
  EXPECT_EQ(Sha256Hex(data), moved.HexDigest());
}

TEST(Sha256, HashFileStreamsAMultiMebibyteFile) {
  TempDir dir;
  const std::string data = RandomBytes((5 << 20) + 123, 2);
  WriteFile(dir.File("big"), data);
  Result<std::string> hash = HashFile(dir.File("big"));
  ASSERT_TRUE(hash.ok()) << hash.message();
  EXPECT_EQ(Sha256Hex(data), *hash);

  WriteFile(dir.File("empty"), "");
  EXPECT_EQ(kEmpty, HashFile(dir.File("empty")).value());
}

TEST(Sha256, HashFileErrorsNameTheFile) {
  TempDir dir;
  Result<std::string> missing = HashFile(dir.File("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string::npos, missing.message().find(dir.File("nope"))) << missing.message();
  Result<std::string> folder = HashFile(dir.path());
  ASSERT_FALSE(folder.ok());
  EXPECT_NE(std::string::npos, folder.message().find("not a regular file")) << folder.message();
}

TEST(Sha256, IsSha256HexAcceptsOnlyLowercaseHexOfLength64) {
  EXPECT_TRUE(IsSha256Hex(kAbc));
  EXPECT_FALSE(IsSha256Hex(""));
  EXPECT_FALSE(IsSha256Hex(std::string(kAbc).substr(1)));
  std::string upper = kAbc;
  upper[0] = 'B';
  EXPECT_FALSE(IsSha256Hex(upper));
  EXPECT_FALSE(IsSha256Hex(std::string(62, 'a') + "/x"));
}

TEST(Crc32, KnownVectors) {
  EXPECT_EQ(0u, Crc32(""));
  EXPECT_EQ(0xCBF43926u, Crc32("123456789"));
}

}  // namespace
}  // namespace titan::artifacts
