#include "security/principals.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/test_dir.h"
#include "security/key_files.h"

namespace titan::security {
namespace {

TEST(Principals, NamesAndKeysAreUniqueAndNamesArePlainWords) {
  Principals all;
  const std::string k1 = NewKeypair()->public_key, k2 = NewKeypair()->public_key;
  ASSERT_TRUE(all.Add({"alice", k1, Role::kSubmitter, 1, 0}).ok());
  EXPECT_FALSE(all.Add({"alice", k2, Role::kReader, 1, 0}).ok());
  EXPECT_FALSE(all.Add({"bob", k1, Role::kReader, 1, 0}).ok());
  EXPECT_FALSE(all.Add({"bob smith", k2, Role::kReader, 1, 0}).ok());
  EXPECT_FALSE(all.Add({"", k2, Role::kReader, 1, 0}).ok());
  EXPECT_TRUE(all.Add({"bob@lab-2.x", k2, Role::kReader, 1, 0}).ok());
  EXPECT_EQ("alice", all.FindKey(k1)->name);
  EXPECT_EQ(nullptr, all.FindName("carol"));
}

// "ACTION target; ..." for each change from `before` to `after`.
std::string Diff(const Principals& before, const Principals& after) {
  std::string out;
  for (const PrincipalChange& c : DiffPrincipals(before, after)) {
    out += (out.empty() ? "" : "; ") + c.action + " " + c.target;
  }
  return out;
}

TEST(Principals, TheDiffOfTwoReadingsNamesEachAddedRevokedRemovedAndChangedPrincipal) {
  const std::string k1 = NewKeypair()->public_key, k2 = NewKeypair()->public_key;
  const std::string k3 = NewKeypair()->public_key, k4 = NewKeypair()->public_key;
  Principals before;
  ASSERT_TRUE(before.Add({"admin", k1, Role::kAdmin, 1, 0}).ok());
  ASSERT_TRUE(before.Add({"bob", k2, Role::kReader, 1, 0}).ok());
  ASSERT_TRUE(before.Add({"carol", k3, Role::kOperator, 1, 0}).ok());
  EXPECT_EQ("", Diff(before, before));
  Principals after;
  ASSERT_TRUE(after.Add({"admin", k1, Role::kAdmin, 1, 0}).ok());
  ASSERT_TRUE(after.Add({"bob", k2, Role::kOperator, 1, 7}).ok());  // a new role, and revoked
  ASSERT_TRUE(after.Add({"alice", k4, Role::kSubmitter, 6, 0}).ok());
  EXPECT_EQ("KEY_CHANGE bob role=operator; KEY_REVOKE bob; KEY_ADD alice role=submitter; KEY_REMOVE carol",
            Diff(before, after));
  Principals added_and_revoked;
  ASSERT_TRUE(added_and_revoked.Add({"dave", k4, Role::kReader, 6, 8}).ok());
  EXPECT_EQ("KEY_ADD dave role=reader; KEY_REVOKE dave", Diff(Principals{}, added_and_revoked));
}

TEST(Principals, RevokedOnesStayKnownAndAreSavedAndLoaded) {
  titan::testing::TempDir dir;
  Principals all;
  const std::string key = NewKeypair()->public_key;
  ASSERT_TRUE(all.Add({"alice", key, Role::kOperator, 5, 0}).ok());
  ASSERT_TRUE(all.Revoke("alice", 9).ok());
  EXPECT_FALSE(all.Revoke("alice", 10).ok());
  EXPECT_EQ(Status::Code::kNotFound, all.Revoke("nobody", 10).code());
  const std::string path = dir.path() + "/principals.yaml";
  ASSERT_TRUE(all.Save(path).ok());
  Result<Principals> back = Principals::Load(path);
  ASSERT_TRUE(back.ok()) << back.message();
  const Principal* p = back->FindKey(key);
  ASSERT_NE(nullptr, p);
  EXPECT_EQ(Role::kOperator, p->role);
  EXPECT_EQ(9, p->revoked_ms);
  EXPECT_TRUE(p->revoked());
}

TEST(Principals, AFileWithABadRoleIsRefusedNamingTheEntry) {
  titan::testing::TempDir dir;
  const std::string path = dir.path() + "/principals.yaml";
  ASSERT_TRUE(WriteSecretFile(path, "principals:\n  - {name: a, role: boss, public_key: \"" +
                                        NewKeypair()->public_key + "\"}\n")
                  .ok());
  Result<Principals> p = Principals::Load(path);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(std::string::npos, p.message().find("entry 1 (a): role 'boss' is not one of")) << p.message();
  EXPECT_TRUE(Principals::Load(dir.path() + "/absent.yaml").ok());
}

TEST(Principals, LostAccessNamesTheRevokedTheRemovedAndTheRekeyed) {
  Principals before;
  for (const char* name : {"kept", "revoked", "removed", "rekeyed", "was-revoked"}) {
    ASSERT_TRUE(before.Add({name, NewKeypair()->public_key, Role::kReader, 1, 0}).ok());
  }
  ASSERT_TRUE(before.Revoke("was-revoked", 2).ok());
  Principals after = before;
  ASSERT_TRUE(after.Revoke("revoked", 3).ok());
  after.Remove("removed");
  ASSERT_TRUE(after.Rekey("rekeyed", NewKeypair()->public_key).ok());
  ASSERT_TRUE(after.Add({"new", NewKeypair()->public_key, Role::kReader, 4, 0}).ok());
  EXPECT_EQ((std::vector<std::string>{"revoked", "removed", "rekeyed"}), LostAccess(before, after));
  EXPECT_FALSE(after.Rekey("revoked", NewKeypair()->public_key).ok());  // revoked stays revoked
  EXPECT_FALSE(after.Rekey("new", after.FindName("kept")->public_key).ok());
  EXPECT_EQ(Status::Code::kNotFound, after.Rekey("nobody", NewKeypair()->public_key).code());
}

TEST(KeyFiles, InitMakesTheServerKeyAndAnAdminOnceAndEveryFileIsPrivate) {
  titan::testing::TempDir dir;
  const KeyFiles keys{dir.path() + "/keys"};
  Result<bool> made = InitKeys(keys, 1000);
  ASSERT_TRUE(made.ok()) << made.message();
  EXPECT_TRUE(*made);
  const std::string server = ReadServerKey(keys)->public_key;
  EXPECT_FALSE(*InitKeys(keys, 2000));  // the second time changes nothing
  EXPECT_EQ(server, ReadServerKey(keys)->public_key);
  Result<Credential> admin = ReadCredential(keys.admin_credential());
  ASSERT_TRUE(admin.ok()) << admin.message();
  EXPECT_EQ("admin", admin->principal);
  EXPECT_EQ(server, admin->server_key);
  EXPECT_EQ(Role::kAdmin, Principals::Load(keys.principals())->FindKey(admin->public_key)->role);
  for (const std::string& f : {keys.server(), keys.principals(), keys.admin_credential()}) {
    struct stat st {};
    ASSERT_EQ(0, ::stat(f.c_str(), &st)) << f;
    EXPECT_EQ(0600u, st.st_mode & 0777) << f;
  }
  struct stat st {};
  ASSERT_EQ(0, ::stat(keys.dir.c_str(), &st));
  EXPECT_EQ(0700u, st.st_mode & 0777);
}

TEST(KeyFiles, AddAndRevokeChangeThePrincipalsFile) {
  titan::testing::TempDir dir;
  const KeyFiles keys{dir.path() + "/keys"};
  ASSERT_TRUE(InitKeys(keys, 1).ok());
  Result<Credential> bob = AddPrincipal(keys, "bob", Role::kReader, 2);
  ASSERT_TRUE(bob.ok()) << bob.message();
  EXPECT_EQ("reader", bob->role);
  EXPECT_FALSE(AddPrincipal(keys, "bob", Role::kAdmin, 3).ok());
  ASSERT_TRUE(RevokePrincipal(keys, "bob", 4).ok());
  EXPECT_TRUE(Principals::Load(keys.principals())->FindName("bob")->revoked());
  EXPECT_FALSE(AddPrincipal(KeyFiles{dir.path() + "/none"}, "x", Role::kReader, 5).ok());
}

}  // namespace
}  // namespace titan::security
