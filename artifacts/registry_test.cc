// Registry: publish, stat, list and remove; the visible hard links; perm_files files dropped in by
// hand; links leading outside; blobs kept while another name or a transfer uses them.
#include "artifacts/registry.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <filesystem>

#include "artifacts/test_files.h"
#include "base/test_dir.h"

namespace titan::artifacts {
namespace {

using testing::ReadFile;
using testing::WriteFile;
using titan::testing::TempDir;

const auto kNotUsed = [](const std::string&) { return false; };

// "space/name=<first 8 hex>:size@created" for each artifact.
std::string Render(const std::vector<ArtifactInfo>& list) {
  std::string out;
  for (const ArtifactInfo& a : list) {
    out += (out.empty() ? "" : " ") + a.space + "/" + a.name + "=" + a.sha256.substr(0, 8) + ":" +
           std::to_string(a.size) + "@" + std::to_string(a.created_ms);
  }
  return out;
}

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Registry>> r = Registry::Open(dir_.File("reg"));
    ASSERT_TRUE(r.ok()) << r.message();
    registry_ = std::move(r).value();
  }
  // Stores `content` as a blob and returns its hash.
  std::string Blob(const std::string& content) {
    WriteFile(dir_.File("in"), content);
    return registry_->blobs().Import(dir_.File("in")).value();
  }
  std::string Visible(const std::string& space, const std::string& name) {
    return dir_.File("reg/" + space + "/" + name);
  }
  // Sets the mtime of `path` to `seconds` after the epoch, so a change is seen without waiting.
  static void SetMtime(const std::string& path, time_t seconds) {
    const timeval times[2] = {{seconds, 0}, {seconds, 0}};
    ASSERT_EQ(0, ::utimes(path.c_str(), times));
  }

  TempDir dir_;
  std::unique_ptr<Registry> registry_;
};

TEST_F(RegistryTest, PublishStatListRemove) {
  const std::string hello = Blob("hello");
  const std::string world = Blob("world!");
  ASSERT_TRUE(registry_->Publish("uploads", "b/x.txt", hello, 1000).ok());
  ASSERT_TRUE(registry_->Publish("uploads", "a.txt", world, 2000).ok());
  Result<ArtifactInfo> p = registry_->Publish("perm_files", "tool.sh", hello, 3000);
  ASSERT_TRUE(p.ok()) << p.message();
  EXPECT_EQ((ArtifactInfo{"perm_files", "tool.sh", hello, 5, 3000}), *p);

  Result<ArtifactInfo> st = registry_->Stat("uploads", "b/x.txt");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ((ArtifactInfo{"uploads", "b/x.txt", hello, 5, 1000}), *st);
  const std::string h = hello.substr(0, 8), w = world.substr(0, 8);
  EXPECT_EQ(
      "perm_files/tool.sh=" + h + ":5@3000 uploads/a.txt=" + w + ":6@2000 uploads/b/x.txt=" + h + ":5@1000",
      Render(registry_->List("")));
  EXPECT_EQ("perm_files/tool.sh=" + h + ":5@3000", Render(registry_->List("perm_files")));
  EXPECT_EQ("", Render(registry_->List("elsewhere")));

  ASSERT_TRUE(registry_->Remove("uploads", "b/x.txt", kNotUsed).ok());
  EXPECT_FALSE(std::filesystem::exists(Visible("uploads", "b")));  // emptied folder pruned
  EXPECT_EQ("no artifact 'b/x.txt' in uploads; upload it with `titan upload b/x.txt`",
            registry_->Stat("uploads", "b/x.txt").message());
  EXPECT_TRUE(registry_->blobs().Has(hello));  // perm_files/tool.sh still names it
  EXPECT_FALSE(registry_->Remove("uploads", "b/x.txt", kNotUsed).ok());

  // The index is durable: a reopened registry knows the same names.
  registry_.reset();
  registry_ = Registry::Open(dir_.File("reg")).value();
  EXPECT_EQ("perm_files/tool.sh=" + h + ":5@3000 uploads/a.txt=" + w + ":6@2000",
            Render(registry_->List("")));
}

TEST_F(RegistryTest, RefusesUnknownSpacesBadNamesAndMissingBlobs) {
  const std::string hello = Blob("hello");
  EXPECT_EQ("unknown artifact space 'tmp': use 'uploads' or 'perm_files'",
            registry_->Publish("tmp", "x", hello, 1).message());
  EXPECT_NE(std::string::npos, registry_->Publish("uploads", "../x", hello, 1).message().find("'../x'"));
  EXPECT_NE(std::string::npos, registry_->Stat("uploads", "/etc/passwd").message().find("'/etc/passwd'"));
  const std::string missing = Sha256Hex("missing");
  Result<ArtifactInfo> no_blob = registry_->Publish("uploads", "x", missing, 1);
  EXPECT_NE(std::string::npos, no_blob.message().find("no blob " + missing)) << no_blob.message();
  EXPECT_FALSE(std::filesystem::exists(Visible("uploads", "x")));
}

TEST_F(RegistryTest, VisibleFileIsAHardLinkToTheBlobAndReplacingANameSwapsIt) {
  const std::string v1 = Blob("version 1");
  const std::string v2 = Blob("version two");
  ASSERT_TRUE(registry_->Publish("uploads", "app/run.py", v1, 10).ok());
  struct stat visible = {};
  struct stat blob = {};
  ASSERT_EQ(0, ::stat(Visible("uploads", "app/run.py").c_str(), &visible));
  ASSERT_EQ(0, ::stat(registry_->blobs().PathOf(v1).c_str(), &blob));
  EXPECT_EQ(blob.st_ino, visible.st_ino);
  EXPECT_EQ("version 1", ReadFile(Visible("uploads", "app/run.py")));

  Result<ArtifactInfo> replaced = registry_->Publish("uploads", "app/run.py", v2, 20);
  ASSERT_TRUE(replaced.ok()) << replaced.message();
  EXPECT_EQ("version two", ReadFile(Visible("uploads", "app/run.py")));
  EXPECT_EQ((ArtifactInfo{"uploads", "app/run.py", v2, 11, 20}),
            registry_->Stat("uploads", "app/run.py").value());
  EXPECT_EQ(1u, registry_->List("uploads").size());
  ASSERT_TRUE(registry_->Publish("uploads", "app/run.py", v2, 30).ok());  // the same content again
  EXPECT_EQ(1, std::distance(std::filesystem::directory_iterator(Visible("uploads", "app")), {}));
  EXPECT_EQ("run.py", std::filesystem::directory_iterator(Visible("uploads", "app"))->path().filename());
}

TEST_F(RegistryTest, HandDroppedPermFileIsImportedAndReimportedWhenItChanges) {
  std::filesystem::create_directories(Visible("perm_files", "tools"));
  const std::string path = Visible("perm_files", "tools/job.sh");
  WriteFile(path, "echo one");
  SetMtime(path, 1000);
  EXPECT_EQ("", Render(registry_->List("perm_files")));  // not seen yet
  Result<ArtifactInfo> first = registry_->Stat("perm_files", "tools/job.sh");
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_EQ((ArtifactInfo{"perm_files", "tools/job.sh", Sha256Hex("echo one"), 8, 1000000}), *first);
  EXPECT_TRUE(registry_->blobs().Has(first->sha256));
  EXPECT_EQ(1u, registry_->List("perm_files").size());

  WriteFile(path, "echo two!");
  SetMtime(path, 2000);
  Result<ArtifactInfo> second = registry_->Stat("perm_files", "tools/job.sh");
  ASSERT_TRUE(second.ok()) << second.message();
  EXPECT_EQ((ArtifactInfo{"perm_files", "tools/job.sh", Sha256Hex("echo two!"), 9, 2000000}), *second);
  EXPECT_EQ("echo two!", ReadFile(registry_->blobs().PathOf(second->sha256)));

  EXPECT_EQ("no artifact 'other.sh' in perm_files; deploy it with `titan deploy-script other.sh`",
            registry_->Stat("perm_files", "other.sh").message());
}

TEST_F(RegistryTest, PublishedPermFileEditedInPlaceIsReimportedAndItsSpoiledBlobDropped) {
  const std::string v1 = Blob("old");
  ASSERT_TRUE(registry_->Publish("perm_files", "f", v1, 10).ok());
  const std::string path = Visible("perm_files", "f");
  std::filesystem::permissions(path, std::filesystem::perms::owner_write, std::filesystem::perm_options::add);
  WriteFile(path, "new content");  // writes through the hard link into the blob
  SetMtime(path, 5000);
  Result<ArtifactInfo> st = registry_->Stat("perm_files", "f");
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Sha256Hex("new content"), st->sha256);
  EXPECT_FALSE(registry_->blobs().Has(v1));  // its content no longer matched its hash
  EXPECT_EQ("new content", ReadFile(registry_->blobs().PathOf(st->sha256)));
}

TEST_F(RegistryTest, LinksLeadingOutsideTheSpaceAreRefused) {
  WriteFile(dir_.File("secret"), "root:x:0:0");
  std::filesystem::create_symlink(dir_.File("secret"), Visible("perm_files", "passwd"));
  EXPECT_EQ("artifact 'passwd' is a link that leads outside perm_files/; replace it with a regular file",
            registry_->Stat("perm_files", "passwd").message());
  std::filesystem::create_directory_symlink(dir_.path(), Visible("perm_files", "up"));
  EXPECT_FALSE(registry_->Stat("perm_files", "up/secret").ok());
  // Publishing through a folder link leading outside is refused too, and writes nothing there.
  const std::string hello = Blob("hello");
  Result<ArtifactInfo> through = registry_->Publish("perm_files", "up/planted", hello, 1);
  EXPECT_NE(std::string::npos, through.message().find("leads outside perm_files/")) << through.message();
  EXPECT_FALSE(std::filesystem::exists(dir_.File("planted")));
  EXPECT_EQ("", Render(registry_->List("")));

  // A link that stays inside is fine.
  WriteFile(Visible("perm_files", "real.txt"), "inside");
  std::filesystem::create_symlink("real.txt", Visible("perm_files", "alias.txt"));
  EXPECT_EQ(Sha256Hex("inside"), registry_->Stat("perm_files", "alias.txt").value().sha256);
}

TEST_F(RegistryTest, RemoveKeepsABlobStillNamedElsewhereOrInUse) {
  const std::string shared = Blob("shared");
  const std::string busy = Blob("busy");
  ASSERT_TRUE(registry_->Publish("uploads", "one", shared, 1).ok());
  ASSERT_TRUE(registry_->Publish("perm_files", "two", shared, 2).ok());
  ASSERT_TRUE(registry_->Publish("uploads", "busy", busy, 3).ok());

  ASSERT_TRUE(registry_->Remove("uploads", "one", kNotUsed).ok());
  EXPECT_TRUE(registry_->blobs().Has(shared));
  EXPECT_FALSE(std::filesystem::exists(Visible("uploads", "one")));
  ASSERT_TRUE(registry_->Remove("perm_files", "two", kNotUsed).ok());
  EXPECT_FALSE(registry_->blobs().Has(shared));

  std::vector<std::string> asked;
  ASSERT_TRUE(registry_
                  ->Remove("uploads", "busy",
                           [&](const std::string& sha) {
                             asked.push_back(sha);
                             return true;
                           })
                  .ok());
  EXPECT_EQ(std::vector<std::string>{busy}, asked);
  EXPECT_TRUE(registry_->blobs().Has(busy));
  EXPECT_EQ("", Render(registry_->List("")));
}

}  // namespace
}  // namespace titan::artifacts
