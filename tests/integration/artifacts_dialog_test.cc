// The ARTIFACT_* dialog driven directly against a real broker: chunks at a wrong offset or with a
// wrong crc32, a commit whose bytes do not match the hash, abort.
#include "tests/integration/artifacts_fixture.h"

namespace titan::cluster_test {
namespace {

// ---- the dialog, driven directly ----

TEST_F(ArtifactsTest, AChunkAtAWrongOffsetOrWithAWrongCrcIsInvalidAndChangesNothing) {
  const std::string content = "0123456789";
  Message opened;
  ASSERT_EQ("ARTIFACT_UPLOAD", Ask(Put("chunks.bin", 10, artifacts::Sha256Hex(content)), &opened));
  const std::string upload(opened.Bytes("upload"));
  EXPECT_GT(opened.Int("credit"), 0);
  EXPECT_EQ(int64_t{wire::kMaxChunkBytes}, opened.Int("chunk_bytes"));
  const int64_t crc = artifacts::Crc32(content);

  EXPECT_EQ("ERROR INVALID", Ask(Chunk(upload, 5, content, crc)));      // not where the upload stands
  EXPECT_EQ("ERROR INVALID", Ask(Chunk(upload, 0, content, crc ^ 1)));  // corrupted in transit
  EXPECT_EQ("ERROR NOT_FOUND", Ask(Chunk("no-such-upload", 0, content, crc)));
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "chunks.bin"));  // nothing visible before COMMIT

  // The upload is still usable from where it stood.
  Message ack;
  ASSERT_EQ("ARTIFACT_CHUNK_ACK",
            Ask(Chunk(upload, 0, content.substr(0, 4), artifacts::Crc32(content.substr(0, 4))), &ack));
  EXPECT_EQ(4, ack.Int("received"));
  EXPECT_EQ("ERROR INVALID", Ask(Chunk(upload, 0, content.substr(4), artifacts::Crc32(content.substr(4)))));
  ASSERT_EQ("ARTIFACT_CHUNK_ACK",
            Ask(Chunk(upload, 4, content.substr(4), artifacts::Crc32(content.substr(4))), &ack));
  EXPECT_EQ(10, ack.Int("received"));
  Message info;
  ASSERT_EQ("ARTIFACT_INFO",
            Ask(wire::MakeMessage(MsgType::kArtifactCommit).Set("upload", Datum(Text{upload})), &info));
  EXPECT_EQ(content, testing::ReadFile(ArtifactDir("uploads/chunks.bin")));
}

TEST_F(ArtifactsTest, ACommitWhoseBytesDoNotMatchTheHashIsRefused) {
  Message opened;
  ASSERT_EQ("ARTIFACT_UPLOAD", Ask(Put("lie.bin", 3, artifacts::Sha256Hex("abc")), &opened));
  const std::string upload(opened.Bytes("upload"));
  ASSERT_EQ("ARTIFACT_CHUNK_ACK", Ask(Chunk(upload, 0, "xyz", artifacts::Crc32("xyz"))));
  EXPECT_EQ("ERROR INVALID",
            Ask(wire::MakeMessage(MsgType::kArtifactCommit).Set("upload", Datum(Text{upload}))));
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "lie.bin"));
  EXPECT_TRUE(fs::is_empty(ArtifactDir("partial")));
}

TEST_F(ArtifactsTest, AnAbortedUploadLeavesNoArtifactAndNoPartialFile) {
  Message opened;
  ASSERT_EQ("ARTIFACT_UPLOAD", Ask(Put("gone.bin", 8, artifacts::Sha256Hex("abcdefgh")), &opened));
  const std::string upload(opened.Bytes("upload"));
  ASSERT_EQ("ARTIFACT_CHUNK_ACK", Ask(Chunk(upload, 0, "abcd", artifacts::Crc32("abcd"))));
  EXPECT_FALSE(fs::is_empty(ArtifactDir("partial")));
  EXPECT_EQ("OK", Ask(wire::MakeMessage(MsgType::kArtifactAbort).Set("upload", Datum(Text{upload}))));
  EXPECT_TRUE(fs::is_empty(ArtifactDir("partial")));
  EXPECT_EQ("ERROR NOT_FOUND", Ask(Chunk(upload, 4, "efgh", artifacts::Crc32("efgh"))));
  EXPECT_EQ("ERROR NOT_FOUND", Stat("uploads", "gone.bin"));
  EXPECT_TRUE(Listed().empty());
}

}  // namespace
}  // namespace titan::cluster_test
