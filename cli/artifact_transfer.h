// ArtifactTransfer: the client side of the broker's ARTIFACT_* dialog over its own DEALER socket.
// Uploads stream a file from disk in chunks with at most `credit` unacknowledged; downloads read by
// content hash with several ARTIFACT_READs in flight into "<out>.partial", verified, then renamed.
// Memory stays at a few chunks whatever the file size. Single-threaded: one object, one thread.
// Every outcome is a TransferStatus value; nothing is thrown across this API.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/artifact_view.h"
#include "schemas/generated/messages.h"
#include "security/client_security.h"

namespace zmq {
class context_t;
class socket_t;
}  // namespace zmq

namespace titan::cli {

class TransferStatus {
 public:
  enum class Kind {
    kOk,
    kLocal,        // a local file could not be read or written
    kNoAnswer,     // the broker did not answer in time (or could not be reached)
    kRefused,      // the broker answered ERROR (code()), or something that is not the expected reply
    kNotFound,     // the broker answered ERROR NOT_FOUND
    kInterrupted,  // cancel_fd became readable (SIGINT/SIGTERM)
  };
  TransferStatus() = default;  // ok
  static TransferStatus Error(Kind kind, std::string message, std::string code = "");

  bool ok() const { return kind_ == Kind::kOk; }
  Kind kind() const { return kind_; }
  const std::string& code() const { return code_; }        // the schema's error code, for kRefused/kNotFound
  const std::string& message() const { return message_; }  // one sentence: what failed, what to do

 private:
  Kind kind_ = Kind::kOk;
  std::string code_, message_;
};

// Which pass a progress report belongs to.
enum class TransferPhase { kHashing, kSending, kReceiving };
// Bytes of `total` done so far in `phase`: hashed, acknowledged by the broker, or written to disk.
using ProgressFn = std::function<void(TransferPhase phase, int64_t done, int64_t total)>;

struct TransferOptions {
  std::string host = "127.0.0.1";
  int port = 9090;                        // the broker's client port
  int timeout_ms = 10000;                 // any wait for a reply longer than this is kNoAnswer
  int read_window = 8;                    // ARTIFACT_READs in flight while downloading
  int64_t read_bytes = int64_t{1} << 20;  // bytes asked for per ARTIFACT_READ (at most max_chunk_bytes)
  int cancel_fd = -1;  // when readable (a SignalWatch's fd), the transfer stops as kInterrupted
  // The CLI's credential for this broker (security/client_security.h): the socket is a CURVE client with it.
  // nullopt: plaintext, which a broker with keys never answers.
  std::optional<security::Credential> credential;
};

class ArtifactTransfer {
 public:
  explicit ArtifactTransfer(TransferOptions options);
  ~ArtifactTransfer();
  ArtifactTransfer(const ArtifactTransfer&) = delete;
  ArtifactTransfer& operator=(const ArtifactTransfer&) = delete;

  // Uploads the regular file at `path` as `name` in `space` ("uploads" or "perm_files"): hashes it
  // (one streaming pass), ARTIFACT_PUT with size and hash, ARTIFACT_CHUNKs read from disk in offset
  // order under the broker's credit, then ARTIFACT_COMMIT. *info is the stored artifact. Any failure
  // after the broker opened the upload sends ARTIFACT_ABORT, so nothing becomes visible.
  TransferStatus Upload(const std::string& path, const std::string& space, const std::string& name,
                        const ProgressFn& progress, ArtifactView* info);

  // ARTIFACT_STAT: kNotFound when `space` has no artifact `name`.
  TransferStatus Stat(const std::string& space, const std::string& name, ArtifactView* info);

  // Downloads the content `info` describes (from Stat) into `out_path`: writes "<out_path>.partial",
  // checks its size and sha256 against `info`, fsyncs it and renames it over `out_path`. On any
  // failure the partial file is removed and `out_path` is left as it was.
  TransferStatus Download(const ArtifactView& info, const std::string& out_path, const ProgressFn& progress);

  // ARTIFACT_LIST of `space` ("" for both).
  TransferStatus List(const std::string& space, std::vector<ArtifactView>* artifacts);
  // ARTIFACT_DELETE.
  TransferStatus Delete(const std::string& space, const std::string& name);

  // "tcp://host:port", for messages.
  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Reply;
  // Sends `msg` after an empty delimiter frame, then `blob` (when not empty) as one frame ZeroMQ frees.
  TransferStatus Send(wire::Message msg, std::string blob = {});
  // Waits up to `wait_ms` for one reply; `timeout_ms` is what a kNoAnswer message reports.
  TransferStatus Await(Reply* reply, int wait_ms, int timeout_ms, const char* doing);
  // One request and its reply (matched by rid); ERROR becomes kNotFound or kRefused.
  TransferStatus Call(wire::Message request, wire::MsgType expected, wire::Message* reply, const char* doing,
                      int timeout_ms = -1);
  // The same with the reply read into its generated struct (Reply::kType is the type expected).
  template <class Reply>
  TransferStatus Call(wire::Message request, Reply* reply, const char* doing, int timeout_ms = -1) {
    wire::Message raw;
    if (TransferStatus s = Call(std::move(request), Reply::kType, &raw, doing, timeout_ms); !s.ok()) return s;
    return Read(Reply::From(raw), reply, doing);
  }
  template <class T>
  TransferStatus Read(Result<T> typed, T* out, const char* doing) const {
    if (!typed.ok()) return Unreadable(typed.status(), doing);
    *out = std::move(typed).value();
    return {};
  }
  TransferStatus Unreadable(const Status& why, const char* doing) const;
  TransferStatus NoAnswer(int timeout_ms, const char* doing) const;
  TransferStatus Unexpected(const wire::Message& got, wire::MsgType expected, const char* doing) const;
  void Abort(const std::string& upload, const TransferStatus& why);
  TransferStatus HashForUpload(int fd, const std::string& path, int64_t size, const ProgressFn& progress,
                               std::string* sha256);
  TransferStatus SendChunk(int fd, const std::string& path, const std::string& upload, int64_t offset,
                           int64_t n, int64_t* rid);
  TransferStatus SendChunks(int fd, const std::string& path, const std::string& upload, int64_t size,
                            int64_t chunk_bytes, int credit, const ProgressFn& progress);
  TransferStatus ReceiveInto(int fd, const std::string& partial, const ArtifactView& info,
                             const ProgressFn& progress);
  bool Interrupted() const;

  TransferOptions options_;
  std::string endpoint_;
  int64_t next_rid_ = 1;
  bool connected_ = false;  // connect() happens at the first Send, where its error can be returned
  bool aborting_ = false;   // while sending ARTIFACT_ABORT, cancel_fd is not watched (it already fired)
  std::unique_ptr<zmq::context_t> ctx_;
  std::unique_ptr<zmq::socket_t> socket_;
};

}  // namespace titan::cli
