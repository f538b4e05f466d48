// ArtifactService: upload sessions, reads by hash, and the registry's list/stat/delete.
#include "broker/artifact_service.h"

#include <spdlog/spdlog.h>

#include <random>

#include "artifacts/artifact_name.h"
#include "artifacts/sha256.h"
#include "broker/serve.h"
#include "broker/wire_names.h"

namespace titan::broker {

namespace {

bool KnownSpace(std::string_view space) { return space == "uploads" || space == "perm_files"; }

Message BadSpace(std::string_view space) {
  return wire::MakeError(ErrorCode::kInvalid, "unknown artifact space '" + std::string(space) +
                                                  "'; use 'uploads' or 'perm_files'");
}

// The refusal of a space and name (unknown space, invalid name); nullopt when both are fine.
std::optional<Message> CheckSpaceAndName(const std::string& space, const std::string& name) {
  if (!KnownSpace(space)) return BadSpace(space);
  if (auto st = artifacts::ValidateName(name); !st.ok())
    return wire::MakeError(ErrorCode::kInvalid, st.message());
  return std::nullopt;
}

Message Unavailable(const std::string& what) {
  return wire::MakeError(ErrorCode::kUnavailable, what + "; check the broker's disk and retry");
}

std::string RandomSuffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

wire::ArtifactInfo RenderArtifact(const artifacts::ArtifactInfo& info) {
  return wire::ArtifactInfo{.space = info.space,
                            .name = info.name,
                            .sha256 = info.sha256,
                            .size = info.size,
                            .created_ms = info.created_ms};
}

Result<std::unique_ptr<ArtifactService>> ArtifactService::Open(const std::string& root,
                                                               ArtifactLimits limits) {
  auto registry = artifacts::Registry::Open(root);
  if (!registry.ok()) return registry.status();
  return std::unique_ptr<ArtifactService>(new ArtifactService(std::move(registry.value()), limits));
}

ArtifactService::ArtifactService(std::unique_ptr<artifacts::Registry> registry, ArtifactLimits limits)
    : registry_(std::move(registry)), limits_(limits) {}

bool ArtifactService::Handles(MsgType type) {
  const auto code = static_cast<uint8_t>(type);
  return code >= static_cast<uint8_t>(MsgType::kArtifactPut) &&
         code <= static_cast<uint8_t>(MsgType::kArtifactDelete);
}

Message ArtifactService::Handle(const Message& req, Instant now, const InlineContent& inline_content,
                                const std::function<bool(const std::string&)>& in_use) {
  switch (req.type) {
    case MsgType::kArtifactPut:
      return Serve<wire::ArtifactPutMsg>(req, [&](auto&& put) { return Put(put, now.mono_ms); });
    case MsgType::kArtifactChunk:
      return Serve<wire::ArtifactChunkMsg>(req, [&](auto&& chunk) { return Chunk(chunk, now.mono_ms); });
    case MsgType::kArtifactCommit:
      return Serve<wire::ArtifactCommitMsg>(req, [&](auto&& commit) { return Commit(commit, now.wall_ms); });
    case MsgType::kArtifactAbort:
      return Serve<wire::ArtifactAbortMsg>(req, [&](auto&& abort) { return Abort(abort); });
    case MsgType::kArtifactStat:
      return Serve<wire::ArtifactStatMsg>(req, [&](auto&& stat) { return Stat(stat); });
    case MsgType::kArtifactRead:
      return Serve<wire::ArtifactReadMsg>(req, [&](auto&& read) { return Read(read, inline_content); });
    case MsgType::kArtifactList:
      return Serve<wire::ArtifactListMsg>(req, [&](auto&& list) { return List(list); });
    case MsgType::kArtifactDelete:
      return Serve<wire::ArtifactDeleteMsg>(req, [&](auto&& del) { return Delete(del, in_use); });
    default:
      return wire::MakeError(ErrorCode::kUnknownType,
                             std::string(wire::NameOf(req.type)) + " is not a request the broker answers");
  }
}

Message ArtifactService::Abort(const wire::ArtifactAbortMsg& req) {
  uploads_.erase(req.upload);  // the writer's destructor removes the partial file
  return wire::OkMsg{}.ToMessage();
}

Message ArtifactService::Stat(const wire::ArtifactStatMsg& req) const {
  if (auto refused = CheckSpaceAndName(req.space, req.name)) return *refused;
  auto info = registry_->Stat(req.space, req.name);
  if (!info.ok()) return wire::MakeError(ErrorCode::kNotFound, info.message());
  return wire::ArtifactInfoMsg{.artifact = RenderArtifact(info.value())}.ToMessage();
}

Message ArtifactService::Delete(const wire::ArtifactDeleteMsg& req,
                                const std::function<bool(const std::string&)>& in_use) {
  const std::string &space = req.space, &name = req.name;
  if (auto refused = CheckSpaceAndName(space, name)) return *refused;
  if (space == artifacts::kPermFiles) perm_files_.erase(name);
  if (auto info = registry_->Stat(space, name); !info.ok())
    return wire::MakeError(ErrorCode::kNotFound, info.message());
  if (auto st = registry_->Remove(space, name, in_use); !st.ok()) return Unavailable(st.message());
  return wire::OkMsg{}.ToMessage();
}

Message ArtifactService::Put(const wire::ArtifactPutMsg& req, int64_t mono_ms) {
  const std::string &space = req.space, &name = req.name, hash = req.sha256.value_or("");
  const int64_t size = req.size;
  if (auto refused = CheckSpaceAndName(space, name)) return *refused;
  if (size < 0) return wire::MakeError(ErrorCode::kInvalid, "artifact size must be >= 0");
  if (size > limits_.max_upload_bytes) {
    return wire::MakeError(ErrorCode::kTooLarge, "'" + name + "' is " + std::to_string(size) +
                                                     " bytes; this broker accepts uploads up to " +
                                                     std::to_string(limits_.max_upload_bytes) +
                                                     " bytes (titan broker --max-upload-mb)");
  }
  Expire(mono_ms);
  if (uploads_.size() >= limits_.max_uploads) {
    return wire::MakeError(ErrorCode::kUnavailable, "the broker has " + std::to_string(uploads_.size()) +
                                                        " uploads open, its limit; retry when one finishes");
  }
  auto writer = registry_->blobs().Begin(size, hash);
  if (!writer.ok()) {
    return wire::MakeError(hash.empty() ? ErrorCode::kUnavailable : ErrorCode::kInvalid, writer.message());
  }
  const std::string id = "u" + std::to_string(next_upload_++) + "-" + RandomSuffix();
  uploads_.emplace(id, Upload{space, name, std::move(writer.value()), mono_ms});
  return wire::ArtifactUploadMsg{.upload = id, .chunk_bytes = limits_.chunk_bytes, .credit = limits_.credit}
      .ToMessage();
}

Message ArtifactService::Chunk(const wire::ArtifactChunkMsg& req, int64_t mono_ms) {
  const std::string& id = req.upload;
  auto it = uploads_.find(id);
  if (it == uploads_.end()) {
    return wire::MakeError(ErrorCode::kNotFound,
                           "no upload '" + id +
                               "' is open (it finished, was aborted, or sat idle too long); "
                               "start again with ARTIFACT_PUT");
  }
  if (req.blobs.size() != 1) {
    return wire::MakeError(ErrorCode::kMalformed,
                           "ARTIFACT_CHUNK carries exactly one blob frame, the chunk's bytes");
  }
  const std::string& bytes = req.blobs.front();
  if (static_cast<int64_t>(bytes.size()) > limits_.chunk_bytes) {
    return wire::MakeError(ErrorCode::kTooLarge,
                           "a chunk of " + std::to_string(bytes.size()) + " bytes is over the " +
                               std::to_string(limits_.chunk_bytes) + "-byte limit ARTIFACT_UPLOAD announced");
  }
  if (req.crc32 != static_cast<int64_t>(artifacts::Crc32(bytes))) {
    return wire::MakeError(ErrorCode::kInvalid,
                           "chunk at offset " + std::to_string(req.offset) +
                               " does not match its crc32 (corrupted in transit); resend it");
  }
  Upload& up = it->second;
  up.last_ms = mono_ms;
  if (auto st = up.writer.Append(req.offset, bytes); !st.ok()) {
    return wire::MakeError(ErrorCode::kInvalid, st.message());
  }
  return wire::ArtifactChunkAckMsg{.upload = id, .received = up.writer.received()}.ToMessage();
}

Message ArtifactService::Commit(const wire::ArtifactCommitMsg& req, int64_t wall_ms) {
  const std::string& id = req.upload;
  auto it = uploads_.find(id);
  if (it == uploads_.end()) {
    return wire::MakeError(ErrorCode::kNotFound,
                           "no upload '" + id + "' is open; start again with ARTIFACT_PUT");
  }
  Upload up = std::move(it->second);
  uploads_.erase(it);
  auto hash = up.writer.Commit();
  if (!hash.ok()) return wire::MakeError(ErrorCode::kInvalid, hash.message());
  if (up.space == artifacts::kPermFiles) perm_files_.erase(up.name);
  auto info = registry_->Publish(up.space, up.name, hash.value(), wall_ms);
  if (!info.ok()) return Unavailable(info.message());
  spdlog::info("broker: artifact {}/{} stored ({} bytes, sha256 {})", up.space, up.name, info->size,
               info->sha256);
  return wire::ArtifactInfoMsg{.artifact = RenderArtifact(info.value())}.ToMessage();
}

Message ArtifactService::Read(const wire::ArtifactReadMsg& req, const InlineContent& inline_content) const {
  const std::string& hash = req.sha256;
  const int64_t offset = req.offset, length = req.length;
  if (offset < 0 || length < 0) return wire::MakeError(ErrorCode::kInvalid, "offset and length must be >= 0");
  if (length > limits_.chunk_bytes) {
    return wire::MakeError(
        ErrorCode::kTooLarge,
        "reads are limited to " + std::to_string(limits_.chunk_bytes) + " bytes; ask for smaller pieces");
  }
  wire::ArtifactDataMsg data{.sha256 = hash, .offset = offset};
  if (const std::string* content = inline_content ? inline_content(hash) : nullptr) {
    data.size = static_cast<int64_t>(content->size());
    if (offset > data.size)
      return wire::MakeError(ErrorCode::kInvalid, "offset is past the end of the content");
    data.blobs.push_back(content->substr(static_cast<size_t>(offset), static_cast<size_t>(length)));
    return std::move(data).ToMessage();
  }
  if (!registry_->blobs().Has(hash)) {
    return wire::MakeError(ErrorCode::kNotFound, "the broker holds no content with sha256 " + hash);
  }
  std::string bytes;
  if (auto st = registry_->blobs().Read(hash, offset, length, &bytes); !st.ok()) {
    return wire::MakeError(ErrorCode::kInvalid, st.message());
  }
  data.size = BlobSize(hash);
  data.blobs.push_back(std::move(bytes));
  return std::move(data).ToMessage();
}

Message ArtifactService::List(const wire::ArtifactListMsg& req) const {
  const std::string space = req.space.value_or("");
  if (!space.empty() && !KnownSpace(space)) return BadSpace(space);
  wire::ArtifactListReplyMsg reply;
  for (const auto& info : registry_->List(space)) reply.artifacts.push_back(RenderArtifact(info));
  return std::move(reply).ToMessage();
}

Status ArtifactService::Stage(const std::string& name, const std::string& sha256, const std::string& content,
                              int64_t wall_ms) {
  if (auto it = perm_files_.find(name); it != perm_files_.end() && it->second == sha256) return Status::Ok();
  if (auto st = artifacts::ValidateName(name); !st.ok()) return st;
  if (!registry_->blobs().Has(sha256)) {
    auto writer = registry_->blobs().Begin(static_cast<int64_t>(content.size()), sha256);
    if (!writer.ok()) return writer.status();
    if (auto st = writer->Append(0, content); !st.ok()) return st;
    if (auto hash = writer->Commit(); !hash.ok()) return hash.status();
  }
  auto info = registry_->Publish(std::string(artifacts::kPermFiles), name, sha256, wall_ms);
  if (!info.ok()) return info.status();
  perm_files_[name] = sha256;
  return Status::Ok();
}

Result<artifacts::ArtifactInfo> ArtifactService::Deployed(const std::string& name) {
  if (auto st = artifacts::ValidateName(name); !st.ok()) return st;
  return registry_->Stat("perm_files", name);
}

int64_t ArtifactService::BlobSize(const std::string& sha256) const {
  auto size = registry_->blobs().Size(sha256);
  return size.ok() ? size.value() : -1;
}

int64_t ArtifactService::Expire(int64_t mono_ms) {
  int64_t next = 0;
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    const int64_t due = it->second.last_ms + limits_.idle_ms;
    if (mono_ms >= due) {
      spdlog::warn("broker: upload {} of {}/{} idle for {} ms; dropped", it->first, it->second.space,
                   it->second.name, limits_.idle_ms);
      it = uploads_.erase(it);
      continue;
    }
    next = next == 0 ? due : std::min(next, due);
    ++it;
  }
  return next;
}

}  // namespace titan::broker
