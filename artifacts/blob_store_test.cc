// BlobStore and BlobWriter: chunked round trips, refused chunks, verification at commit, cleanup of
// partial files, import with dedup.
#include "artifacts/blob_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "artifacts/test_files.h"
#include "base/test_dir.h"

namespace titan::artifacts {
namespace {

using testing::RandomBytes;
using testing::ReadFile;
using testing::WriteFile;
using titan::testing::TempDir;

// Files under `dir`, relative, sorted, space-separated.
std::string Files(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) names.push_back(e.path().lexically_relative(dir).string());
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : " ") + n;
  return out;
}

BlobStore OpenStore(const TempDir& dir) {
  Result<BlobStore> store = BlobStore::Open(dir.File("store"));
  EXPECT_TRUE(store.ok()) << store.message();
  return std::move(store).value();
}

TEST(BlobWriter, RoundTripOfUnevenChunksThenChunkedReads) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  const std::string data = RandomBytes((3 << 20) + 4321, 7);
  const std::string sha = Sha256Hex(data);
  Result<BlobWriter> w = store.Begin(static_cast<int64_t>(data.size()), sha);
  ASSERT_TRUE(w.ok()) << w.message();
  for (size_t at = 0, step = 1000; at < data.size(); at += step, step = step * 7 % 300007 + 1) {
    const std::string_view chunk = std::string_view(data).substr(at, step);
    ASSERT_TRUE(w->Append(static_cast<int64_t>(at), chunk).ok());
  }
  EXPECT_EQ(static_cast<int64_t>(data.size()), w->received());
  EXPECT_FALSE(store.Has(sha));  // not visible before commit
  Result<std::string> committed = w->Commit();
  ASSERT_TRUE(committed.ok()) << committed.message();
  EXPECT_EQ(sha, *committed);
  EXPECT_TRUE(store.Has(sha));
  EXPECT_EQ(static_cast<int64_t>(data.size()), store.Size(sha).value());
  EXPECT_EQ(store.root() + "/blobs/" + sha.substr(0, 2) + "/" + sha, store.PathOf(sha));
  EXPECT_EQ("", Files(store.root() + "/partial"));

  std::string back, chunk;
  for (int64_t offset = 0;; offset += static_cast<int64_t>(chunk.size())) {
    ASSERT_TRUE(store.Read(sha, offset, 1000003, &chunk).ok());
    if (chunk.empty()) break;
    back += chunk;
  }
  EXPECT_TRUE(back == data);
}

TEST(BlobStore, ReadRefusesUnknownHashAndBadOffsets) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  WriteFile(dir.File("f"), "hello");
  const std::string sha = store.Import(dir.File("f")).value();
  std::string out;
  EXPECT_TRUE(store.Read(sha, 3, 100, &out).ok());
  EXPECT_EQ("lo", out);
  EXPECT_TRUE(store.Read(sha, 5, 100, &out).ok());
  EXPECT_EQ("", out);
  EXPECT_NE(std::string::npos, store.Read(sha, 6, 1, &out).message().find("past the end"));
  EXPECT_FALSE(store.Read(sha, -1, 1, &out).ok());
  EXPECT_FALSE(store.Read(sha, 0, -1, &out).ok());
  const std::string unknown = Sha256Hex("nothing");
  EXPECT_NE(std::string::npos, store.Read(unknown, 0, 1, &out).message().find("no blob " + unknown));
  EXPECT_NE(std::string::npos, store.Read("../../etc/passwd", 0, 1, &out).message().find("not a SHA-256"));
  EXPECT_FALSE(store.Has("../../etc/passwd"));
  EXPECT_EQ("", store.PathOf("ABC"));
}

TEST(BlobWriter, WrongOffsetIsRefusedAndTheWriterGoesOnFromTheRightOne) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  Result<BlobWriter> w = store.Begin(6, "");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append(0, "abc").ok());
  Status skipped = w->Append(4, "ef");
  EXPECT_EQ("chunk at offset 4, expected 3: resend from 3", skipped.message());
  EXPECT_FALSE(w->Append(0, "abc").ok());  // a repeated chunk too
  EXPECT_EQ(3, w->received());
  ASSERT_TRUE(w->Append(3, "def").ok());
  EXPECT_EQ(Sha256Hex("abcdef"), w->Commit().value());
}

TEST(BlobWriter, AppendPastTheAnnouncedSizeIsRefused) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  Result<BlobWriter> w = store.Begin(4, "");
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->Append(0, "ab").ok());
  Status over = w->Append(2, "cde");
  ASSERT_FALSE(over.ok());
  EXPECT_NE(std::string::npos, over.message().find("send at most 2 bytes")) << over.message();
  EXPECT_EQ(2, w->received());
  Result<std::string> early = w->Commit();
  EXPECT_NE(std::string::npos, early.message().find("send the rest from offset 2")) << early.message();
  ASSERT_TRUE(w->Append(2, "cd").ok());
  EXPECT_TRUE(w->Commit().ok());
  EXPECT_FALSE(w->Append(4, "").ok());  // finished
}

TEST(BlobStore, BeginRefusesNegativeSizeAndMalformedHash) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  EXPECT_FALSE(store.Begin(-1, "").ok());
  EXPECT_NE(std::string::npos, store.Begin(1, "ABCDEF").message().find("not a SHA-256"));
  EXPECT_FALSE(store.Begin(1, std::string(64, 'A')).ok());
  EXPECT_TRUE(store.Begin(0, Sha256Hex("")).ok());
}

TEST(BlobWriter, HashMismatchAtCommitLeavesNothingVisible) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  const std::string claimed = Sha256Hex("other");
  Result<BlobWriter> w = store.Begin(4, claimed);
  ASSERT_TRUE(w->Append(0, "data").ok());
  Result<std::string> c = w->Commit();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ("content hash mismatch: expected " + claimed + ", got " + Sha256Hex("data") + "; upload again",
            c.message());
  EXPECT_EQ("", Files(store.root()));
  EXPECT_FALSE(store.Has(Sha256Hex("data")));
}

TEST(BlobWriter, DestroyedUncommittedWriterLeavesPartialEmpty) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  {
    Result<BlobWriter> w = store.Begin(10, "");
    ASSERT_TRUE(w->Append(0, "12345").ok());
    EXPECT_NE("", Files(store.root() + "/partial"));
    BlobWriter moved = std::move(w).value();  // the moved-from writer owns nothing
    Result<BlobWriter> other = store.Begin(1, "");
    moved = std::move(other).value();  // assigning over an uncommitted writer drops its file
    EXPECT_EQ(1u, std::distance(std::filesystem::directory_iterator(store.root() + "/partial"), {}));
  }
  EXPECT_EQ("", Files(store.root()));
}

TEST(BlobStore, OpenWipesLeftoverPartialFiles) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("store/partial/sub"));
  WriteFile(dir.File("store/partial/blob-crashed"), "half");
  WriteFile(dir.File("store/partial/sub/x"), "half");
  BlobStore store = OpenStore(dir);
  EXPECT_TRUE(std::filesystem::is_empty(store.root() + "/partial"));
}

TEST(BlobStore, ImportDedupsAndCommittedBlobsAreReadOnly) {
  TempDir dir;
  BlobStore store = OpenStore(dir);
  const std::string data = RandomBytes((2 << 20) + 5, 3);
  WriteFile(dir.File("a"), data);
  WriteFile(dir.File("b"), data);
  Result<std::string> a = store.Import(dir.File("a"));
  ASSERT_TRUE(a.ok()) << a.message();
  struct stat before = {};
  ASSERT_EQ(0, ::stat(store.PathOf(*a).c_str(), &before));
  EXPECT_EQ(0444u, before.st_mode & 0777);
  Result<std::string> b = store.Import(dir.File("b"));
  ASSERT_TRUE(b.ok()) << b.message();
  EXPECT_EQ(*a, *b);
  struct stat after = {};
  ASSERT_EQ(0, ::stat(store.PathOf(*b).c_str(), &after));
  EXPECT_EQ(before.st_ino, after.st_ino);  // the first copy was kept
  EXPECT_EQ("blobs/" + a->substr(0, 2) + "/" + *a, Files(store.root()));
  EXPECT_TRUE(ReadFile(store.PathOf(*a)) == data);
  EXPECT_NE(std::string::npos, store.Import(dir.File("nope")).message().find(dir.File("nope")));

  EXPECT_TRUE(store.Remove(*a).ok());
  EXPECT_FALSE(store.Has(*a));
  EXPECT_TRUE(store.Remove(*a).ok());  // already gone is fine
}

}  // namespace
}  // namespace titan::artifacts
