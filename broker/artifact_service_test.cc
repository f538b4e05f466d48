// The ARTIFACT_* dialog through BrokerCore: chunked uploads with their refusals, reads by hash,
// list/delete, idle expiry, and jobs that run deployed files.
#include "artifacts/sha256.h"
#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class ArtifactTest : public BrokerCoreTest {
 protected:
  Message Put(const std::string& space, const std::string& name, int64_t size, const std::string& sha = "") {
    wire::ArtifactPutMsg m{.space = space, .name = name, .size = size};
    if (!sha.empty()) m.sha256 = sha;
    return Client(std::move(m).ToMessage());
  }
  Message Chunk(const std::string& upload, int64_t offset, const std::string& bytes, int64_t crc = -1) {
    return Client(wire::ArtifactChunkMsg{
        .upload = upload,
        .offset = offset,
        .crc32 = crc >= 0 ? crc : static_cast<int64_t>(artifacts::Crc32(bytes)),
        .blobs = {
            bytes}}.ToMessage());
  }
  // A request sent as its struct.
  template <class T>
  Message Call(T req) {
    return Client(std::move(req).ToMessage());
  }
  // Uploads `content` in chunks of `step` bytes; returns the ARTIFACT_INFO (or the first ERROR).
  Message Upload(const std::string& space, const std::string& name, const std::string& content,
                 size_t step = 3) {
    Message put = Put(space, name, static_cast<int64_t>(content.size()), artifacts::Sha256Hex(content));
    if (put.type != MsgType::kArtifactUpload) return put;
    const std::string id(put.Bytes("upload"));
    for (size_t at = 0; at < content.size(); at += step) {
      Message ack = Chunk(id, static_cast<int64_t>(at), content.substr(at, step));
      if (ack.type != MsgType::kArtifactChunkAck) return ack;
    }
    return Call(wire::ArtifactCommitMsg{.upload = id});
  }
  std::string Names() {
    const Result<wire::ArtifactListReplyMsg> reply =
        wire::ArtifactListReplyMsg::From(Call(wire::ArtifactListMsg{}));
    if (!reply.ok()) return reply.message();
    std::string out;
    for (const wire::ArtifactInfo& a : reply->artifacts)
      out += (out.empty() ? "" : " ") + a.space + "/" + a.name;
    return out;
  }
  static std::string Code(const Message& m) {
    return m.type == MsgType::kError ? std::string(m.Bytes("code")) : "-";
  }
};

TEST_F(ArtifactTest, UploadInChunksThenStatReadListDelete) {
  const std::string content = "hello artifacts, in little pieces\n";
  Message info = Upload("uploads", "dir/report.md", content);
  ASSERT_EQ(info.type, MsgType::kArtifactInfo) << info.Bytes("reason");
  const auto& a = std::get<wire::Map>(info.Find("artifact")->v);
  EXPECT_EQ(wire::FindField(a, "sha256")->bytes(), artifacts::Sha256Hex(content));
  EXPECT_EQ(std::get<int64_t>(wire::FindField(a, "size")->v), static_cast<int64_t>(content.size()));

  Message stat = Call(wire::ArtifactStatMsg{.space = "uploads", .name = "dir/report.md"});
  ASSERT_EQ(stat.type, MsgType::kArtifactInfo);
  Message read =
      Call(wire::ArtifactReadMsg{.sha256 = artifacts::Sha256Hex(content), .offset = 6, .length = 9});
  ASSERT_EQ(read.type, MsgType::kArtifactData);
  EXPECT_EQ(read.blobs.at(0), "artifacts");
  EXPECT_EQ(read.Int("size"), static_cast<int64_t>(content.size()));
  EXPECT_EQ("uploads/dir/report.md", Names());

  EXPECT_EQ(Call(wire::ArtifactDeleteMsg{.space = "uploads", .name = "dir/report.md"}).type, MsgType::kOk);
  EXPECT_EQ("", Names());
  EXPECT_EQ("NOT_FOUND", Code(Call(wire::ArtifactStatMsg{.space = "uploads", .name = "dir/report.md"})));
  EXPECT_EQ(
      "NOT_FOUND",
      Code(Call(wire::ArtifactReadMsg{.sha256 = artifacts::Sha256Hex(content), .offset = 0, .length = 4})));
}

TEST_F(ArtifactTest, BadNamesSpacesAndSizesAreRefused) {
  EXPECT_EQ("INVALID", Code(Put("uploads", "../etc/passwd", 1)));
  EXPECT_EQ("INVALID", Code(Put("uploads", "/etc/passwd", 1)));
  EXPECT_EQ("INVALID", Code(Put("elsewhere", "x", 1)));
  EXPECT_EQ("INVALID", Code(Put("uploads", "x", -1)));
  EXPECT_EQ("TOO_LARGE", Code(Put("uploads", "x", int64_t{1} << 50)));
  EXPECT_EQ("INVALID", Code(Call(wire::ArtifactStatMsg{.space = "uploads", .name = "a/../../b"})));
  // A reply type sent as a request.
  EXPECT_EQ("UNKNOWN_TYPE", Code(Call(wire::ArtifactChunkAckMsg{.upload = "u1", .received = 0})));
}

TEST_F(ArtifactTest, WrongOffsetWrongCrcAndWrongHashAreRejected) {
  const std::string content = "0123456789";
  Message put = Put("uploads", "x.bin", 10, artifacts::Sha256Hex(content));
  const std::string id(put.Bytes("upload"));
  Message wrong_offset = Chunk(id, 5, "56789");
  EXPECT_EQ("INVALID", Code(wrong_offset));
  EXPECT_NE(std::string(wrong_offset.Bytes("reason")).find("expected 0"), std::string::npos)
      << wrong_offset.Bytes("reason");
  EXPECT_EQ("INVALID", Code(Chunk(id, 0, "01234", 12345)));
  // The transfer survives both refusals and completes from the right offset.
  EXPECT_EQ(Chunk(id, 0, "01234").type, MsgType::kArtifactChunkAck);
  EXPECT_EQ(Chunk(id, 5, "56789").Int("received"), 10);
  EXPECT_EQ(Call(wire::ArtifactCommitMsg{.upload = id}).type, MsgType::kArtifactInfo);

  // Content that does not hash to what PUT announced never becomes visible.
  Message liar = Put("uploads", "liar.bin", 3, artifacts::Sha256Hex("abc"));
  const std::string lid(liar.Bytes("upload"));
  EXPECT_EQ(Chunk(lid, 0, "abd").type, MsgType::kArtifactChunkAck);
  EXPECT_EQ("INVALID", Code(Call(wire::ArtifactCommitMsg{.upload = lid})));
  EXPECT_EQ("uploads/x.bin", Names());
}

TEST_F(ArtifactTest, AbortedAndIdleUploadsLeaveNothing) {
  Message a = Put("uploads", "aborted.bin", 6);
  EXPECT_EQ(Chunk(std::string(a.Bytes("upload")), 0, "abc").type, MsgType::kArtifactChunkAck);
  EXPECT_EQ(Call(wire::ArtifactAbortMsg{.upload = std::string(a.Bytes("upload"))}).type, MsgType::kOk);
  EXPECT_EQ("NOT_FOUND", Code(Chunk(std::string(a.Bytes("upload")), 3, "def")));

  Message idle = Put("uploads", "idle.bin", 6);
  const std::string id(idle.Bytes("upload"));
  EXPECT_EQ(Chunk(id, 0, "abc").type, MsgType::kArtifactChunkAck);
  Advance(ArtifactLimits{}.idle_ms + 1000, {});
  EXPECT_EQ("NOT_FOUND", Code(Chunk(id, 3, "def")));
  EXPECT_EQ("", Names());
  EXPECT_TRUE(std::filesystem::is_empty(dir_.File("artifacts/partial")));
}

TEST_F(ArtifactTest, JobsRunDeployedFilesAndArchives) {
  Join("w1", 4);
  ASSERT_EQ(Upload("perm_files", "tool.sh", "echo deployed").type, MsgType::kArtifactInfo);
  ASSERT_EQ(Upload("perm_files", "proj.zip", "PK-not-really").type, MsgType::kArtifactInfo);

  auto submit = [&](wire::JobSpec spec) { return Call(wire::JobSubmitMsg{.jobs = {std::move(spec)}}); };
  EXPECT_EQ(submit({.id = "a", .file = "tool.sh"}).type, MsgType::kJobAccepted);
  EXPECT_EQ(submit({.id = "b", .file = "proj.zip/src/main.py", .archive = true}).type, MsgType::kJobAccepted);
  Message missing = submit({.id = "c", .file = "never-deployed.sh"});
  EXPECT_EQ("NOT_FOUND", Code(missing));
  EXPECT_NE(std::string(missing.Bytes("reason")).find("never-deployed.sh"), std::string::npos);
  EXPECT_EQ("INVALID", Code(submit({.id = "d", .file = "main.py", .archive = true})));

  std::map<std::string, std::string> assigned;  // id -> file_sha256
  for (const auto& o : sent_) {
    if (o.kind != Outgoing::kWorker || o.msg.type != MsgType::kJobAssign) continue;
    const Result<wire::JobAssignMsg> assign = wire::JobAssignMsg::From(o.msg);
    ASSERT_TRUE(assign.ok()) << assign.message();
    assigned[assign->job.id] = assign->file_sha256;
    EXPECT_GT(assign->file_size, 0);
  }
  EXPECT_EQ(assigned["a"], artifacts::Sha256Hex("echo deployed"));
  EXPECT_EQ(assigned["b"], artifacts::Sha256Hex("PK-not-really"));

  // Deleting the name of content a running job needs keeps the content readable for its worker.
  EXPECT_EQ(Call(wire::ArtifactDeleteMsg{.space = "perm_files", .name = "tool.sh"}).type, MsgType::kOk);
  const wire::ArtifactReadMsg read{.sha256 = assigned["a"], .offset = 0, .length = 1 << 20};
  sent_.clear();
  core_->OnWorker("id-w1", read.ToMessage(), now_, 77);
  Turn();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].msg.type, MsgType::kArtifactData);
  EXPECT_EQ(sent_[0].msg.Int("rid"), 77);
  EXPECT_EQ(sent_[0].msg.blobs.at(0), "echo deployed");
}

TEST_F(ArtifactTest, WorkersReadInlineJobFilesByHash) {
  Join("w1", 4);
  Submit({{.id = "j"}});
  const wire::ArtifactReadMsg read{.sha256 = artifacts::Sha256Hex("exit 0"), .offset = 0, .length = 100};
  sent_.clear();
  core_->OnWorker("id-w1", read.ToMessage(), now_, 5);
  Turn();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].msg.blobs.at(0), "exit 0");
}

}  // namespace
}  // namespace titan::broker
