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
#include "cli/artifact_transfer_io.h"
#include "schemas/cpp/transport.h"
#include "schemas/generated/protocol.h"

namespace titan::cli {

using wire::Datum;
using wire::Message;
using wire::MsgType;

using namespace transfer_io;  // NOLINT: this class's own helpers

TransferStatus TransferStatus::Error(Kind kind, std::string message, std::string code) {
  TransferStatus s;
  s.kind_ = kind;
  s.message_ = std::move(message);
  s.code_ = std::move(code);
  return s;
}

ArtifactTransfer::ArtifactTransfer(TransferOptions options)
    : options_(std::move(options)),
      endpoint_("tcp://" + options_.host + ":" + std::to_string(options_.port)),
      ctx_(std::make_unique<zmq::context_t>(1)) {
  socket_ = std::make_unique<zmq::socket_t>(*ctx_, zmq::socket_type::dealer);
  wire::ConfigureSocket(*socket_);
  if (options_.credential) security::SecureClient(*socket_, *options_.credential);  // before connect (Send)
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

}  // namespace titan::cli
