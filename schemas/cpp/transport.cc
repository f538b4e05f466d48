// Multipart I/O for Titan messages over cppzmq.
#include "schemas/cpp/transport.h"

#include <string_view>

namespace titan::wire {
namespace {

constexpr int kLingerMs = 200;
constexpr int kHighWaterMark = 10000;

std::string_view View(const zmq::message_t& m) { return {static_cast<const char*>(m.data()), m.size()}; }

bool SendFrames(zmq::socket_t& sock, const std::vector<zmq::message_t>* envelope, bool delimiter,
                const Message& msg) {
  std::vector<std::string> frames = Encode(msg);
  try {
    if (envelope != nullptr) {
      for (const auto& e : *envelope) {
        zmq::message_t copy(e.data(), e.size());
        if (!sock.send(copy, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
      }
    }
    // The first frame decides: if the queue is full it is refused (dontwait) and nothing was sent;
    // once it is accepted, ZeroMQ takes the rest of the multipart message atomically.
    bool first = envelope == nullptr || envelope->empty();
    auto flags_for = [&](bool more) {
      auto f = more ? zmq::send_flags::sndmore : zmq::send_flags::none;
      if (first) f = f | zmq::send_flags::dontwait;
      first = false;
      return f;
    };
    if (delimiter && !sock.send(zmq::message_t(), flags_for(true))) return false;
    for (size_t i = 0; i < frames.size(); ++i) {
      if (!sock.send(zmq::buffer(frames[i]), flags_for(i + 1 < frames.size()))) return false;
    }
    return true;
  } catch (const zmq::error_t&) {
    return false;  // EHOSTUNREACH under ROUTER_MANDATORY: the peer left
  }
}

}  // namespace

// Keeps `part` in `in` unless the message is already over a limit or this part takes it over; then
// frees what was kept and says why in `in->too_large`.
void Keep(zmq::message_t part, size_t* kept_bytes, Incoming* in) {
  if (!in->too_large.empty()) return;
  *kept_bytes += part.size();
  if (in->payload.size() >= kMaxFrames) {
    in->too_large = "more than " + std::to_string(kMaxFrames) + " frames in one message; the limit is " +
                    std::to_string(kMaxFrames);
  } else if (*kept_bytes > kMaxKeptBytes) {
    in->too_large = "more than " + std::to_string(kMaxKeptBytes) + " bytes in one message; the limit is " +
                    std::to_string(kMaxKeptBytes);
  } else {
    in->payload.push_back(std::move(part));
    return;
  }
  in->payload.clear();
}

bool RecvFromRouter(zmq::socket_t& sock, Incoming* in, bool dontwait) {
  in->envelope.clear();
  in->payload.clear();
  in->too_large.clear();
  in->user_id.clear();
  zmq::message_t frame;
  auto res = sock.recv(frame, dontwait ? zmq::recv_flags::dontwait : zmq::recv_flags::none);
  if (!res) return false;
  bool more = frame.more();
  in->envelope.push_back(std::move(frame));
  bool first_after_identity = true;
  size_t kept_bytes = 0;
  while (more) {
    zmq::message_t part;
    (void)sock.recv(part, zmq::recv_flags::none);  // the rest of a multipart message is already here
    more = part.more();
    // Frames from the peer carry its ZAP User-Id (the routing id frame, made by the ROUTER, does not).
    if (first_after_identity) {
      if (const char* user = zmq_msg_gets(part.handle(), "User-Id")) in->user_id = user;
    }
    if (first_after_identity && part.size() == 0) {
      in->envelope.push_back(std::move(part));  // REQ delimiter
    } else {
      Keep(std::move(part), &kept_bytes, in);  // a dropped part is freed here, before the next is read
    }
    first_after_identity = false;
  }
  return true;
}

Decoded DecodeIncoming(const Incoming& in) {
  if (!in.too_large.empty()) {
    Decoded d;
    d.status = DecodeStatus::kTooLarge;
    d.reason = in.too_large + "; send smaller messages (large data goes in artifacts)";
    return d;
  }
  std::vector<std::string_view> views;
  views.reserve(in.payload.size());
  for (const auto& p : in.payload) views.push_back(View(p));
  return Decode(std::span<const std::string_view>(views));
}

bool SendTo(zmq::socket_t& sock, const std::vector<zmq::message_t>& envelope, const Message& msg) {
  return SendFrames(sock, &envelope, false, msg);
}

bool SendRequest(zmq::socket_t& sock, const Message& msg) { return SendFrames(sock, nullptr, true, msg); }

bool SendMessage(zmq::socket_t& sock, const Message& msg) { return SendFrames(sock, nullptr, false, msg); }

Decoded RecvReply(zmq::socket_t& sock) {
  std::vector<zmq::message_t> parts;
  bool more = true;
  while (more) {
    zmq::message_t part;
    (void)sock.recv(part, zmq::recv_flags::none);
    more = part.more();
    if (parts.size() <= kMaxFrames + 1) parts.push_back(std::move(part));
  }
  std::vector<std::string_view> views;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i == 0 && parts[i].size() == 0) continue;  // delimiter
    views.push_back(View(parts[i]));
  }
  return Decode(std::span<const std::string_view>(views));
}

void ConfigureSocket(zmq::socket_t& sock) {
  sock.set(zmq::sockopt::linger, kLingerMs);
  sock.set(zmq::sockopt::sndhwm, kHighWaterMark);
  sock.set(zmq::sockopt::rcvhwm, kHighWaterMark);
  sock.set(zmq::sockopt::maxmsgsize, kMaxFrameBytes);
#ifdef TITAN_BOUNDED_LIBZMQ
  // Options of third_party/libzmq/bounded-multipart.patch: libzmq drops the connection of a peer whose
  // message goes past them as it arrives, and frees what it had of it.
  constexpr int kZmqMaxMsgFrames = 1701, kZmqMaxMsgTotal = 1702;
  const int64_t frames = kMaxArrivingFrames, bytes = kMaxArrivingBytes;
  if (zmq_setsockopt(sock.handle(), kZmqMaxMsgFrames, &frames, sizeof frames) != 0 ||
      zmq_setsockopt(sock.handle(), kZmqMaxMsgTotal, &bytes, sizeof bytes) != 0) {
    throw zmq::error_t();  // not the patched libzmq this build links: a build error, not a peer's
  }
#endif
}

bool ArrivingMessagesBounded() {
#ifdef TITAN_BOUNDED_LIBZMQ
  return true;
#else
  return false;
#endif
}

int BoundPort(zmq::socket_t& sock) {
  const std::string ep = sock.get(zmq::sockopt::last_endpoint);
  const auto colon = ep.rfind(':');
  return colon == std::string::npos ? -1 : std::stoi(ep.substr(colon + 1));
}

}  // namespace titan::wire
