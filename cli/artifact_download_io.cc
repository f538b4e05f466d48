// ArtifactTransfer's downloads: ARTIFACT_READs in flight into "<out>.partial", written at their
// offsets, hashed as they continue the prefix, verified, fsynced and renamed.
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

TransferStatus ArtifactTransfer::Download(const ArtifactView& info, const std::string& out_path,
                                          const ProgressFn& progress) {
  if (info.size < 0 || !artifacts::IsSha256Hex(info.sha256)) {
    return TransferStatus::Error(Kind::kRefused,
                                 "the broker described " + info.space + "/" + info.name +
                                     " with a bad size or sha256; is it a Titan broker of this version?");
  }
  const std::string partial = out_path + ".partial";
  Fd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    return LocalError("cannot create '" + partial + "'", errno,
                      "check that the folder exists and is writable");
  }
  TransferStatus s = ReceiveInto(fd.get(), partial, info, progress);
  if (s.ok() && ::fsync(fd.get()) != 0)
    s = LocalError("cannot sync '" + partial + "'", errno, "check the disk");
  if (fd.Close() != 0 && s.ok()) s = LocalError("cannot write '" + partial + "'", errno, "check the disk");
  if (s.ok() && ::rename(partial.c_str(), out_path.c_str()) != 0) {
    s = LocalError("cannot rename '" + partial + "' to '" + out_path + "'", errno, "check the folder");
  }
  if (!s.ok()) {
    ::unlink(partial.c_str());
    return s;
  }
  // The rename is durable once the folder is synced.
  const std::string dir = std::filesystem::path(out_path).parent_path().string();
  Fd dfd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.valid()) (void)::fsync(dfd.get());
  return {};
}

// READs of options_.read_bytes with options_.read_window in flight, each reply written at its offset
// as it comes and hashed when it continues the hashed prefix (replies come in order on one socket;
// any that do not make the file be hashed again at the end).
TransferStatus ArtifactTransfer::ReceiveInto(int fd, const std::string& partial, const ArtifactView& info,
                                             const ProgressFn& progress) {
  struct Pending {
    int64_t rid, offset, length;
  };
  const int64_t size = info.size;
  const int64_t piece = std::clamp<int64_t>(options_.read_bytes, 1, wire::kMaxChunkBytes);
  const size_t window = static_cast<size_t>(std::max(options_.read_window, 1));
  const std::string what = info.space + "/" + info.name;
  std::deque<Pending> pending;
  artifacts::Sha256 hash;
  int64_t next = 0, written = 0, hashed = 0;
  if (progress) progress(TransferPhase::kReceiving, 0, size);
  while (written < size) {
    while (pending.size() < window && next < size) {
      const int64_t length = std::min(piece, size - next), rid = next_rid_++;
      Message read =
          wire::ArtifactReadMsg{.sha256 = info.sha256, .offset = next, .length = length}.ToMessage();
      read.Set("rid", Datum(rid));
      if (TransferStatus s = Send(std::move(read)); !s.ok()) return s;
      pending.push_back({rid, next, length});
      next += length;
    }
    Reply reply;
    const std::string doing = "downloading " + what + " (" + std::to_string(written) + " of " +
                              std::to_string(size) + " bytes received)";
    if (TransferStatus s = Await(&reply, options_.timeout_ms, options_.timeout_ms, doing.c_str()); !s.ok())
      return s;
    auto it =
        std::find_if(pending.begin(), pending.end(), [&](const Pending& p) { return reply.rid == p.rid; });
    if (it == pending.end()) continue;  // an answer to an earlier request
    if (reply.msg.type == MsgType::kError) return Refused(reply.msg, "the broker could not serve " + what);
    if (reply.msg.type != MsgType::kArtifactData)
      return Unexpected(reply.msg, MsgType::kArtifactData, doing.c_str());
    const Pending p = *it;
    pending.erase(it);
    const std::string_view bytes = View(reply.blob);
    if (TransferStatus s = CheckData(reply.msg, bytes.size(), p.offset, p.length, size); !s.ok()) return s;
    if (!WriteFull(fd, bytes.data(), p.length, p.offset)) {
      return LocalError("cannot write '" + partial + "'", errno, "check the free space and the disk");
    }
    if (p.offset == hashed) {
      hash.Update(bytes);
      hashed += p.length;
    }
    written += p.length;
    if (progress) progress(TransferPhase::kReceiving, written, size);
  }
  return VerifyDigest(hashed == size ? hash.HexDigest() : std::string(), partial, info);
}

}  // namespace titan::cli
