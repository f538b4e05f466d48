// ArtifactTransfer's uploads: the file hashed in one pass, ARTIFACT_PUT, chunks under the broker's
// credit in offset order, ARTIFACT_COMMIT; ARTIFACT_ABORT on any failure after the upload opened.
#include <sys/stat.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <limits>

#include "cli/artifact_transfer_io.h"
#include "schemas/generated/protocol.h"

namespace titan::cli {

using wire::Message;
using wire::MsgType;
using namespace transfer_io;  // NOLINT: this class's own helpers

TransferStatus ArtifactTransfer::Upload(const std::string& path, const std::string& space,
                                        const std::string& name, const ProgressFn& progress,
                                        ArtifactView* info) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid())
    return LocalError("cannot open '" + path + "'", errno, "check the path and its permissions");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return LocalError("cannot stat '" + path + "'", errno, "check the file");
  if (!S_ISREG(st.st_mode)) {
    return TransferStatus::Error(Kind::kLocal, "'" + path +
                                                   "' is not a regular file; give a file (or, for "
                                                   "`titan upload`, a folder)");
  }
  const int64_t size = st.st_size;
  (void)::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::string sha256;
  if (TransferStatus s = HashForUpload(fd.get(), path, size, progress, &sha256); !s.ok()) return s;

  const std::string target = space + "/" + name;
  wire::ArtifactUploadMsg opened;
  const std::string doing = "starting the upload of " + target;
  const wire::ArtifactPutMsg put{.space = space, .name = name, .size = size, .sha256 = sha256};
  TransferStatus s = Call(put.ToMessage(), &opened, doing.c_str());
  if (!s.ok()) return s;
  const std::string& upload = opened.upload;
  const int64_t chunk_bytes = std::clamp<int64_t>(opened.chunk_bytes, 1, wire::kMaxChunkBytes);
  const int credit = static_cast<int>(std::clamp<int64_t>(opened.credit, 1, kMaxCredit));

  s = SendChunks(fd.get(), path, upload, size, chunk_bytes, credit, progress);
  if (s.ok()) {
    wire::ArtifactInfoMsg done;
    const std::string committing = "committing " + target + " (the broker verifies and syncs it)";
    const auto commit_ms = static_cast<int>(
        std::min<int64_t>(options_.timeout_ms + size / kCommitBytesPerMs, std::numeric_limits<int>::max()));
    s = Call(wire::ArtifactCommitMsg{.upload = upload}.ToMessage(), &done, committing.c_str(), commit_ms);
    if (s.ok()) {
      *info = ArtifactFromInfo(done.artifact);
      if (info->sha256 == sha256 && info->size == size) return {};
      return TransferStatus::Error(
          Kind::kRefused, "the broker stored " + target + " with sha256 " + info->sha256 + " and " +
                              std::to_string(info->size) + " bytes, but '" + path + "' has sha256 " + sha256 +
                              " and " + std::to_string(size) + " bytes; upload it again");
    }
  }
  Abort(upload, s);
  return s;
}

// Tells the broker to drop `upload` after `why`. Waits briefly for its OK so the request is not lost
// with the socket; nothing is waited for when the broker is not answering anyway.
void ArtifactTransfer::Abort(const std::string& upload, const TransferStatus& why) {
  if (why.kind() == Kind::kNoAnswer) {
    (void)Send(wire::ArtifactAbortMsg{.upload = upload}.ToMessage());
    return;
  }
  aborting_ = true;
  wire::OkMsg ok;
  (void)Call(wire::ArtifactAbortMsg{.upload = upload}.ToMessage(), &ok, "aborting the upload", kAbortWaitMs);
  aborting_ = false;
}

TransferStatus ArtifactTransfer::HashForUpload(int fd, const std::string& path, int64_t size,
                                               const ProgressFn& progress, std::string* sha256) {
  artifacts::Sha256 hash;
  std::string buf(static_cast<size_t>(std::min(kHashPiece, std::max<int64_t>(size, 1))), '\0');
  for (int64_t offset = 0; offset < size;) {
    if (Interrupted())
      return TransferStatus::Error(Kind::kInterrupted, "interrupted while hashing '" + path + "'");
    const int64_t n = std::min<int64_t>(static_cast<int64_t>(buf.size()), size - offset);
    if (!ReadFull(fd, buf.data(), n, offset)) {
      if (errno == 0) {
        return TransferStatus::Error(Kind::kLocal, "'" + path +
                                                       "' shrank while it was read; upload it again once "
                                                       "nothing writes to it");
      }
      return LocalError("cannot read '" + path + "'", errno, "check the file");
    }
    hash.Update(std::string_view(buf.data(), static_cast<size_t>(n)));
    offset += n;
    if (progress) progress(TransferPhase::kHashing, offset, size);
  }
  *sha256 = hash.HexDigest();
  return {};
}

// Reads `n` bytes of the file at `offset` and sends them as one ARTIFACT_CHUNK; its rid in *rid.
TransferStatus ArtifactTransfer::SendChunk(int fd, const std::string& path, const std::string& upload,
                                           int64_t offset, int64_t n, int64_t* rid) {
  std::string chunk(static_cast<size_t>(n), '\0');
  if (!ReadFull(fd, chunk.data(), n, offset)) {
    if (errno == 0) {
      return TransferStatus::Error(Kind::kLocal, "'" + path +
                                                     "' shrank while it was uploaded; upload it again "
                                                     "once nothing writes to it");
    }
    return LocalError("cannot read '" + path + "'", errno, "check the file");
  }
  *rid = next_rid_++;
  const wire::ArtifactChunkMsg header{
      .upload = upload, .offset = offset, .crc32 = static_cast<int64_t>(artifacts::Crc32(chunk))};
  Message m = header.ToMessage();  // the chunk travels as the blob frame Send adds
  m.Set("rid", Datum(*rid));
  return Send(std::move(m), std::move(chunk));
}

// CHUNKs in offset order, at most `credit` unacknowledged; returns once the broker acknowledged all
// `size` bytes. Acks come in order, one per chunk.
TransferStatus ArtifactTransfer::SendChunks(int fd, const std::string& path, const std::string& upload,
                                            int64_t size, int64_t chunk_bytes, int credit,
                                            const ProgressFn& progress) {
  struct InFlight {
    int64_t rid, end;
  };
  std::deque<InFlight> in_flight;
  int64_t sent = 0, acked = 0;
  if (progress) progress(TransferPhase::kSending, 0, size);
  while (acked < size) {
    while (static_cast<int>(in_flight.size()) < credit && sent < size) {
      const int64_t n = std::min(chunk_bytes, size - sent);
      int64_t rid = 0;
      if (TransferStatus s = SendChunk(fd, path, upload, sent, n, &rid); !s.ok()) return s;
      sent += n;
      in_flight.push_back({rid, sent});
    }
    Reply reply;
    const std::string doing =
        "uploading (" + std::to_string(acked) + " of " + std::to_string(size) + " bytes acknowledged)";
    if (TransferStatus s = Await(&reply, options_.timeout_ms, options_.timeout_ms, doing.c_str()); !s.ok())
      return s;
    if (!reply.rid || in_flight.front().rid != *reply.rid) continue;  // an answer to an earlier request
    if (reply.msg.type == MsgType::kError) return Refused(reply.msg, "the broker refused a chunk");
    if (reply.msg.type != MsgType::kArtifactChunkAck)
      return Unexpected(reply.msg, MsgType::kArtifactChunkAck, "uploading");
    const int64_t expected = in_flight.front().end;
    in_flight.pop_front();
    const Result<wire::ArtifactChunkAckMsg> ack = wire::ArtifactChunkAckMsg::From(reply.msg);
    if (!ack.ok()) return Unreadable(ack.status(), "uploading");
    acked = ack.value().received;
    if (acked != expected) {
      return TransferStatus::Error(Kind::kRefused, "the broker acknowledged " + std::to_string(acked) +
                                                       " bytes where " + std::to_string(expected) +
                                                       " were sent; upload it again");
    }
    if (progress) progress(TransferPhase::kSending, acked, size);
  }
  return {};
}

}  // namespace titan::cli
