// The keys folder's rotation and re-issue: which files change, what is kept, what is reported.
#include "security/key_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/test_dir.h"

namespace titan::security {
namespace {

class KeyFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitKeys(keys_, 1).ok());
    Result<Credential> workers = AddPrincipal(keys_, "workers", Role::kWorker, 2);
    ASSERT_TRUE(workers.ok()) << workers.message();
    ASSERT_TRUE(WriteCredential(keys_.dir + "/workers.cred", *workers).ok());
    Result<Credential> alice = AddPrincipal(keys_, "alice", Role::kSubmitter, 3);  // handed out
    ASSERT_TRUE(alice.ok()) << alice.message();
    ASSERT_TRUE(WriteCredential(dir_ / "alice.cred", *alice).ok());
    ASSERT_TRUE(AddPrincipal(keys_, "gone", Role::kReader, 4).ok());
    ASSERT_TRUE(RevokePrincipal(keys_, "gone", 5).ok());
  }

  std::string ServerKey() { return ReadServerKey(keys_)->public_key; }
  std::string ServerKeyIn(const std::string& credential) { return ReadCredential(credential)->server_key; }

  titan::testing::TempDir dir_;
  KeyFiles keys_{dir_ / "keys"};
};

// "name (role)" of each principal a rotation could not reach.
std::string Unreached(const Rotation& r) {
  std::string out;
  for (const Principal& p : r.unreached)
    out += (out.empty() ? "" : " ") + p.name + " (" + std::string(RoleName(p.role)) + ")";
  return out;
}

TEST_F(KeyFilesTest, RotateKeepsThePreviousKeyAndGivesTheFoldersCredentialsTheNewOne) {
  const std::string before = ServerKey();
  const Credential admin_before = *ReadCredential(keys_.admin_credential());
  Result<Rotation> r = RotateServerKey(keys_, /*rollback=*/false);
  ASSERT_TRUE(r.ok()) << r.message();
  EXPECT_NE(before, r->public_key);
  EXPECT_EQ(before, r->previous_key);
  EXPECT_EQ(r->public_key, ServerKey());
  EXPECT_EQ((std::vector<std::string>{keys_.admin_credential(), keys_.dir + "/workers.cred"}), r->rewritten);
  const Credential admin = *ReadCredential(keys_.admin_credential());
  EXPECT_EQ(r->public_key, admin.server_key);
  EXPECT_EQ(admin_before.public_key, admin.public_key);  // the client's own keypair is unchanged
  EXPECT_EQ(admin_before.secret_key, admin.secret_key);
  EXPECT_EQ(r->public_key, ServerKeyIn(keys_.dir + "/workers.cred"));
  EXPECT_EQ(before, ServerKeyIn(dir_ / "alice.cred"));  // handed out: not ours to rewrite
  EXPECT_EQ("alice (submitter)", Unreached(*r));        // revoked "gone" needs nothing
  struct stat st {};
  ASSERT_EQ(0, ::stat(keys_.previous_server().c_str(), &st));
  EXPECT_EQ(0600u, st.st_mode & 0777);
}

TEST_F(KeyFilesTest, RollbackPutsThePreviousKeyBackAndKeepsTheOneItLeft) {
  const std::string first = ServerKey();
  EXPECT_EQ(Status::Code::kNotFound, RotateServerKey(keys_, /*rollback=*/true).status().code());
  const std::string second = RotateServerKey(keys_, false)->public_key;
  Result<Rotation> back = RotateServerKey(keys_, /*rollback=*/true);
  ASSERT_TRUE(back.ok()) << back.message();
  EXPECT_EQ(first, back->public_key);
  EXPECT_EQ(first, ServerKey());
  EXPECT_EQ(first, ServerKeyIn(keys_.admin_credential()));
  EXPECT_EQ(second, RotateServerKey(keys_, true)->public_key);  // and forward again
}

TEST_F(KeyFilesTest, AFileThatIsNotACredentialIsReportedAndTheRotationGoesOn) {
  ASSERT_TRUE(WriteSecretFile(keys_.dir + "/notes.cred", "not: a credential\n").ok());
  Result<Rotation> r = RotateServerKey(keys_, false);
  ASSERT_TRUE(r.ok()) << r.message();
  ASSERT_EQ(1u, r->skipped.size());
  EXPECT_NE(std::string::npos, r->skipped[0].find("notes.cred: credential file")) << r->skipped[0];
  EXPECT_EQ(r->public_key, ServerKeyIn(keys_.admin_credential()));
}

TEST_F(KeyFilesTest, RotateWithoutAServerKeySaysHowToMakeOne) {
  Result<Rotation> r = RotateServerKey(KeyFiles{dir_ / "none"}, false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string::npos, r.message().find("titan keys init")) << r.message();
}

TEST_F(KeyFilesTest, ReissueGivesANewKeyWithTheSameRoleAndTheOldOneLosesAccess) {
  const Principals before = *Principals::Load(keys_.principals());
  ASSERT_TRUE(RotateServerKey(keys_, false).ok());
  Result<Credential> alice = ReissuePrincipal(keys_, "alice");
  ASSERT_TRUE(alice.ok()) << alice.message();
  EXPECT_EQ("submitter", alice->role);
  EXPECT_EQ(ServerKey(), alice->server_key);
  EXPECT_NE(ReadCredential(dir_ / "alice.cred")->public_key, alice->public_key);
  const Principals after = *Principals::Load(keys_.principals());
  EXPECT_EQ(alice->public_key, after.FindName("alice")->public_key);
  EXPECT_EQ(std::vector<std::string>{"alice"}, LostAccess(before, after));
  EXPECT_EQ(Status::Code::kNotFound, ReissuePrincipal(keys_, "nobody").status().code());
  EXPECT_EQ(Status::Code::kInvalid, ReissuePrincipal(keys_, "gone").status().code());
}

}  // namespace
}  // namespace titan::security
