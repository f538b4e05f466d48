// ArtifactService: the broker's side of the ARTIFACT_* dialog. Uploads arrive in chunks (at most
// `credit` unacknowledged) into a partial file and become visible only at ARTIFACT_COMMIT; reads are
// by content hash, so a name replaced mid-download cannot mix two contents. Owned by the broker loop.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "artifacts/registry.h"
#include "base/clock.h"
#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"

namespace titan::broker {

struct ArtifactLimits {
  int64_t max_upload_bytes = int64_t{64} << 30;  // one artifact; `titan broker --max-upload-mb`
  int64_t chunk_bytes = static_cast<int64_t>(wire::kMaxChunkBytes);
  int credit = 8;            // chunks a client may have in flight
  int64_t idle_ms = 120000;  // an upload silent this long is dropped with its partial file
  size_t max_uploads = 256;  // transfers open at once
};

// Content the broker holds besides the registry: files sent inline with submissions (hash -> bytes).
using InlineContent = std::function<const std::string*(const std::string& sha256)>;

class ArtifactService {
 public:
  // Opens (creating) the registry under `root` (blobs/, uploads/, perm_files/, artifacts.db).
  static Result<std::unique_ptr<ArtifactService>> Open(const std::string& root, ArtifactLimits limits);

  static bool Handles(wire::MsgType type);
  // Answers one ARTIFACT_* request, decoded here into its struct (one that does not decode is answered
  // ERROR MALFORMED, naming the field). `in_use` says whether a hash is still needed by a job
  // (ARTIFACT_DELETE keeps such content); `inline_content` serves ARTIFACT_READ of job files. Idle
  // uploads are timed on now.mono_ms; a published artifact's created_ms is now.wall_ms.
  wire::Message Handle(const wire::Message& req, Instant now, const InlineContent& inline_content,
                       const std::function<bool(const std::string&)>& in_use);
  // ARTIFACT_READ: bytes of content by hash, the registry's or `inline_content`'s (a worker fetching a
  // job's file sends it too).
  wire::Message Read(const wire::ArtifactReadMsg& req, const InlineContent& inline_content) const;

  // A job's file that was not sent with its submission: the deployed artifact of that name.
  Result<artifacts::ArtifactInfo> Deployed(const std::string& name);
  // Names `content` (whose SHA-256 is `sha256`) `name` in perm_files, as a file sent with a job is
  // (seed 004: "SDK/YAML submissions automatically stage files here"). Durable on return; a name
  // already staged with this content costs nothing. Error: invalid name, or the disk fails.
  // `wall_ms` is its created_ms.
  Status Stage(const std::string& name, const std::string& sha256, const std::string& content,
               int64_t wall_ms);
  // Size of content the registry holds; -1 when it has none.
  int64_t BlobSize(const std::string& sha256) const;

  // Drops uploads idle past limits.idle_ms (monotonic ms). Returns when next to call it (0: nothing open).
  int64_t Expire(int64_t mono_ms);

 private:
  struct Upload {
    std::string space, name;
    artifacts::BlobWriter writer;
    int64_t last_ms = 0;  // monotonic: its last chunk
  };
  ArtifactService(std::unique_ptr<artifacts::Registry> registry, ArtifactLimits limits);

  wire::Message Put(const wire::ArtifactPutMsg& req, int64_t mono_ms);
  wire::Message Chunk(const wire::ArtifactChunkMsg& req, int64_t mono_ms);
  wire::Message Commit(const wire::ArtifactCommitMsg& req, int64_t wall_ms);
  wire::Message Abort(const wire::ArtifactAbortMsg& req);
  wire::Message Stat(const wire::ArtifactStatMsg& req) const;
  wire::Message Delete(const wire::ArtifactDeleteMsg& req,
                       const std::function<bool(const std::string&)>& in_use);
  wire::Message List(const wire::ArtifactListMsg& req) const;

  std::unique_ptr<artifacts::Registry> registry_;
  ArtifactLimits limits_;
  std::map<std::string, Upload> uploads_;  // by upload id
  // perm_files names this service staged or published, with their content hash: a submission that
  // sends the same file again is not staged again. Forgotten when the name changes (commit, delete).
  std::map<std::string, std::string> perm_files_;
  uint64_t next_upload_ = 1;
};

// The ArtifactInfo struct of the protocol.
wire::ArtifactInfo RenderArtifact(const artifacts::ArtifactInfo& info);

}  // namespace titan::broker
