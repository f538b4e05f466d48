// ArtifactTransfer: credit-windowed uploads and downloads over one DEALER socket (the ZeroMQ guide's
// credit-based file transfer). Chunks go out zero-copy; reply blobs are written straight from the frame.
#include "cli/artifact_transfer.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <filesystem>
#include <limits>
#include <optional>
#include <zmq.hpp>

#include "artifacts/sha256.h"
#include "schemas/cpp/transport.h"
#include "schemas/generated/protocol.h"

namespace titan::cli {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using Kind = TransferStatus::Kind;

namespace {

constexpr int kAbortWaitMs = 2000;
constexpr int64_t kCommitBytesPerMs =
    20'000;  // COMMIT fsyncs the whole file: allow 20 MB/s on top of the timeout
constexpr int kMaxCredit = 64;
constexpr int64_t kHashPiece = int64_t{1} << 20;

std::string_view View(const zmq::message_t& m) { return {static_cast<const char*>(m.data()), m.size()}; }

// "10 s", "1.5 s", "200 ms".
std::string Span(int ms) {
  if (ms < 1000) return std::to_string(ms) + " ms";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000.0);
  return buf;
}

TransferStatus LocalError(const std::string& what, int err, const std::string& todo) {
  return TransferStatus::Error(Kind::kLocal, what + ": " + std::strerror(err) + "; " + todo);
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Close() {
    const int rc = fd_ >= 0 ? ::close(fd_) : 0;
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

// Reads exactly `n` bytes at `offset`; false with errno set on error, or errno 0 when the file ended first.
bool ReadFull(int fd, char* buf, int64_t n, int64_t offset) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, buf, static_cast<size_t>(n), offset);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = 0;
      return false;
    }
    buf += r;
    n -= r;
    offset += r;
  }
  return true;
}

bool WriteFull(int fd, const char* buf, int64_t n, int64_t offset) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, buf, static_cast<size_t>(n), offset);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    buf += w;
    n -= w;
    offset += w;
  }
  return true;
}

// An ERROR reply as a status: "<context>: CODE: reason" (NOT_FOUND becomes kNotFound).
TransferStatus Refused(const Message& error, const std::string& context) {
  const Result<wire::ErrorMsg> e = wire::ErrorMsg::From(error);  // Decode checked its fields
  const std::string code = e.ok() ? e.value().code : "ERROR";
  return TransferStatus::Error(code == "NOT_FOUND" ? Kind::kNotFound : Kind::kRefused,
                               context + ": " + code + ": " + (e.ok() ? e.value().reason : e.message()),
                               code);
}

// An ARTIFACT_DATA header and its blob of `got` bytes against the read of `length` bytes at `offset`
// of content of `size` bytes.
TransferStatus CheckData(const Message& header, size_t got, int64_t offset, int64_t length, int64_t size) {
  const Result<wire::ArtifactDataMsg> data = wire::ArtifactDataMsg::From(header);
  const int64_t at = data.ok() ? data.value().offset : -1, of = data.ok() ? data.value().size : -1;
  if (at == offset && of == size && static_cast<int64_t>(got) == length) return {};
  return TransferStatus::Error(
      Kind::kRefused, "the broker answered the read of " + std::to_string(length) + " bytes at offset " +
                          std::to_string(offset) + " with " + std::to_string(got) + " bytes at offset " +
                          std::to_string(at) + " of " + std::to_string(of) + "; try again");
}

// Compares the downloaded content's hash (`digest`, or the file at `partial` hashed now when empty)
// with the one the broker announced.
TransferStatus VerifyDigest(std::string digest, const std::string& partial, const ArtifactView& info) {
  if (digest.empty()) {
    auto rehash = artifacts::HashFile(partial);
    if (!rehash.ok()) return TransferStatus::Error(Kind::kLocal, rehash.message());
    digest = rehash.value();
  }
  if (digest == info.sha256) return {};
  return TransferStatus::Error(Kind::kRefused, "the bytes received for " + info.space + "/" + info.name +
                                                   " have sha256 " + digest + ", not the " + info.sha256 +
                                                   " the broker announced; try again");
}

}  // namespace

TransferStatus TransferStatus::Error(Kind kind, std::string message, std::string code) {
  TransferStatus s;
  s.kind_ = kind;
  s.message_ = std::move(message);
  s.code_ = std::move(code);
  return s;
}

// One reply: the decoded header frames, and the first blob frame as received (not copied).
struct ArtifactTransfer::Reply {
  Message msg;
  std::optional<int64_t> rid;
  zmq::message_t blob;
};

ArtifactTransfer::ArtifactTransfer(TransferOptions options)
    : options_(std::move(options)),
      endpoint_("tcp://" + options_.host + ":" + std::to_string(options_.port)),
      ctx_(std::make_unique<zmq::context_t>(1)) {
  socket_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::dealer);
  wire::ConfigureSocket(*socket_);
}

ArtifactTransfer::~ArtifactTransfer() {
  socket_.reset();
  ctx_.reset();
}

bool ArtifactTransfer::Interrupted() const {
  if (options_.cancel_fd < 0) return false;
  pollfd p{options_.cancel_fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLIN);
}

// Sends [delimiter][signature][type][body] and, when `blob` is set, one blob frame that ZeroMQ frees.
TransferStatus ArtifactTransfer::Send(Message msg, std::string blob) {
  if (!connected_) {
    try {
      socket_->connect(endpoint_);  // throws for an address ZeroMQ cannot parse
      connected_ = true;
    } catch (const zmq::error_t& e) {
      return TransferStatus::Error(Kind::kNoAnswer, "cannot connect to " + endpoint_ + ": " + e.what() +
                                                        "; check --host/--port (or TITAN_HOST/TITAN_PORT)");
    }
  }
  const std::vector<std::string> frames = wire::Encode(msg);
  try {
    socket_->send(zmq::message_t(), zmq::send_flags::sndmore);
    for (size_t i = 0; i < frames.size(); ++i) {
      const bool more = i + 1 < frames.size() || !blob.empty();
      socket_->send(zmq::buffer(frames[i]), more ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    if (!blob.empty()) {
      auto* owned = new std::string(std::move(blob));
      zmq::message_t frame(
          owned->data(), owned->size(), [](void*, void* hint) { delete static_cast<std::string*>(hint); },
          owned);
      socket_->send(frame, zmq::send_flags::none);
    }
  } catch (const zmq::error_t& e) {
    return TransferStatus::Error(Kind::kNoAnswer,
                                 "cannot send to the broker at " + endpoint_ + ": " + e.what());
  }
  return {};
}

TransferStatus ArtifactTransfer::NoAnswer(int timeout_ms, const char* doing) const {
  return TransferStatus::Error(Kind::kNoAnswer,
                               "no answer from the broker at " + endpoint_ + " within " + Span(timeout_ms) +
                                   " while " + doing +
                                   ": is `titan up` or `titan broker` running there? (set "
                                   "--host/--port or TITAN_HOST/TITAN_PORT; --timeout to wait longer)");
}

TransferStatus ArtifactTransfer::Await(Reply* reply, int wait_ms, int timeout_ms, const char* doing) {
  const bool cancellable = options_.cancel_fd >= 0 && !aborting_;
  zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0},
                             {nullptr, options_.cancel_fd, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, cancellable ? 2 : 1, std::chrono::milliseconds(std::max(wait_ms, 0)));
    if (cancellable && (items[1].revents & ZMQ_POLLIN)) {
      return TransferStatus::Error(Kind::kInterrupted, std::string("interrupted while ") + doing);
    }
    if (!(items[0].revents & ZMQ_POLLIN)) return NoAnswer(timeout_ms, doing);
    std::vector<zmq::message_t> parts;
    bool more = true;
    while (more) {
      zmq::message_t part;
      (void)socket_->recv(part, zmq::recv_flags::none);  // the rest of a multipart message is already here
      more = part.more();
      if (parts.empty() && part.size() == 0) continue;  // the empty delimiter
      if (parts.size() <= wire::kMaxFrames) parts.push_back(std::move(part));
    }
    // Decode the header frames only: the blob stays in its zmq frame until written.
    std::vector<std::string_view> header;
    for (size_t i = 0; i < parts.size() && i < 3; ++i) header.push_back(View(parts[i]));
    wire::Decoded d = wire::Decode(std::span<const std::string_view>(header));
    if (d.status != wire::DecodeStatus::kOk) {
      return TransferStatus::Error(Kind::kRefused, "undecodable reply from " + endpoint_ + " while " + doing +
                                                       ": " + d.reason +
                                                       "; is it a Titan broker of this version?");
    }
    reply->msg = std::move(d.msg);
    reply->rid = d.rid;
    reply->blob = parts.size() > 3 ? std::move(parts[3]) : zmq::message_t();
  } catch (const zmq::error_t& e) {
    return TransferStatus::Error(Kind::kNoAnswer, "talking to the broker at " + endpoint_ + ": " + e.what());
  }
  return {};
}

TransferStatus ArtifactTransfer::Call(Message request, MsgType expected, Message* out, const char* doing,
                                      int timeout_ms) {
  if (timeout_ms < 0) timeout_ms = options_.timeout_ms;
  const int64_t rid = next_rid_++;
  request.Set("rid", Datum(rid));
  if (TransferStatus s = Send(std::move(request)); !s.ok()) return s;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  Reply reply;
  do {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())
            .count();
    if (TransferStatus s = Await(&reply, static_cast<int>(left), timeout_ms, doing); !s.ok()) return s;
  } while (reply.rid && *reply.rid != rid);  // a late answer to an earlier request
  if (reply.msg.type == MsgType::kError) return Refused(reply.msg, doing);
  if (reply.msg.type != expected) return Unexpected(reply.msg, expected, doing);
  *out = std::move(reply.msg);
  return {};
}

TransferStatus ArtifactTransfer::Unreadable(const Status& why, const char* doing) const {
  return TransferStatus::Error(Kind::kRefused, endpoint_ + " sent a reply this titan cannot read while " +
                                                   doing + " (" + why.message() +
                                                   "); is it a Titan broker of this version?");
}

TransferStatus ArtifactTransfer::Unexpected(const Message& got, MsgType expected, const char* doing) const {
  return TransferStatus::Error(Kind::kRefused, endpoint_ + " answered " +
                                                   std::string(wire::NameOf(got.type)) + " instead of " +
                                                   std::string(wire::NameOf(expected)) + " while " + doing +
                                                   "; is it a Titan broker of this version?");
}

// ---- single requests ----

TransferStatus ArtifactTransfer::Stat(const std::string& space, const std::string& name, ArtifactView* info) {
  wire::ArtifactInfoMsg reply;
  const std::string doing = "looking up " + space + "/" + name;
  TransferStatus s =
      Call(wire::ArtifactStatMsg{.space = space, .name = name}.ToMessage(), &reply, doing.c_str());
  if (!s.ok()) return s;
  *info = ArtifactFromInfo(reply.artifact);
  return {};
}

TransferStatus ArtifactTransfer::List(const std::string& space, std::vector<ArtifactView>* artifacts) {
  wire::ArtifactListMsg request;
  if (!space.empty()) request.space = space;
  wire::ArtifactListReplyMsg reply;
  if (TransferStatus s = Call(request.ToMessage(), &reply, "listing artifacts"); !s.ok()) return s;
  artifacts->clear();
  for (const wire::ArtifactInfo& a : reply.artifacts) artifacts->push_back(ArtifactFromInfo(a));
  return {};
}

TransferStatus ArtifactTransfer::Delete(const std::string& space, const std::string& name) {
  wire::OkMsg reply;
  const std::string doing = "removing " + space + "/" + name;
  return Call(wire::ArtifactDeleteMsg{.space = space, .name = name}.ToMessage(), &reply, doing.c_str());
}

// ---- upload ----

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

// ---- download ----

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
