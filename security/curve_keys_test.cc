#include "security/curve_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/test_dir.h"
#include "security/credential.h"

namespace titan::security {
namespace {

TEST(CurveKeys, AFreshKeypairIsTwoDistinctKeysAndThePublicOneFollowsFromTheSecret) {
  Result<Keypair> k = NewKeypair();
  ASSERT_TRUE(k.ok()) << k.message();
  EXPECT_TRUE(IsKey(k->public_key));
  EXPECT_TRUE(IsKey(k->secret_key));
  EXPECT_NE(k->public_key, k->secret_key);
  EXPECT_EQ(k->public_key, PublicKeyOf(k->secret_key).value());
  EXPECT_NE(k->public_key, NewKeypair()->public_key);
}

TEST(CurveKeys, OnlyFortyCharactersOfZ85AreAKey) {
  EXPECT_FALSE(IsKey(""));
  EXPECT_FALSE(IsKey(std::string(39, 'a')));
  EXPECT_FALSE(IsKey(std::string(40, '~')));  // not in the Z85 alphabet
  EXPECT_TRUE(IsKey(std::string(40, 'a')));
  EXPECT_FALSE(PublicKeyOf("short").ok());
}

TEST(CurveKeys, KeyTextIsTheZ85OfThirtyTwoRawBytes) {
  EXPECT_EQ("", KeyText("too short"));
  const std::string zeros(32, '\0');
  EXPECT_EQ("0000000000000000000000000000000000000000", KeyText(zeros));
}

TEST(Credential, WrittenMode0600AndReadBack) {
  titan::testing::TempDir dir;
  const Keypair mine = NewKeypair().value(), server = NewKeypair().value();
  const Credential c{"alice", "submitter", mine.public_key, mine.secret_key, server.public_key};
  const std::string path = dir.path() + "/alice.cred";
  ASSERT_TRUE(WriteCredential(path, c).ok());
  struct stat st {};
  ASSERT_EQ(0, ::stat(path.c_str(), &st));
  EXPECT_EQ(0600u, st.st_mode & 0777);
  Result<Credential> back = ReadCredential(path);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ("alice", back->principal);
  EXPECT_EQ(mine.secret_key, back->secret_key);
  EXPECT_EQ(server.public_key, back->server_key);
}

TEST(Credential, AMismatchedOrMissingKeyIsRefusedNamingTheFile) {
  titan::testing::TempDir dir;
  const Keypair a = NewKeypair().value(), b = NewKeypair().value();
  const std::string path = dir.path() + "/bad.cred";
  ASSERT_TRUE(
      WriteCredential(path, Credential{"x", "reader", a.public_key, b.secret_key, a.public_key}).ok());
  Result<Credential> c = ReadCredential(path);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(std::string::npos, c.message().find("does not belong")) << c.message();
  ASSERT_TRUE(WriteSecretFile(path, "principal: x\npublic_key: \"nope\"\n").ok());
  EXPECT_NE(std::string::npos, ReadCredential(path).message().find("bad.cred"));
  EXPECT_FALSE(ReadCredential(dir.path() + "/absent.cred").ok());
}

}  // namespace
}  // namespace titan::security
