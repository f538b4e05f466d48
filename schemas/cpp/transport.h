// Moving Messages over ZeroMQ sockets: ROUTER envelopes, multipart send/receive. Not thread-safe:
// call only from the thread that owns the socket.
#pragma once

#include <string>
#include <vector>
#include <zmq.hpp>

#include "schemas/cpp/codec.h"

namespace titan::wire {

// The most a node keeps of one message after its envelope: the largest body plus one chunk fits with
// room to spare. Past it (or past kMaxFrames frames) the node drops the message's frames as they are read.
inline constexpr size_t kMaxKeptBytes = 2 * kMaxBodyBytes;

// The largest single frame a node accepts (ZMQ_MAXMSGSIZE); libzmq drops the connection of a peer
// that sends a larger one.
inline constexpr int64_t kMaxFrameBytes = static_cast<int64_t>(kMaxBodyBytes) * 2;
// A message somewhat over the protocol's limits (a REQ delimiter, kMaxKeptBytes) still arrives whole, so
// that it is answered TOO_LARGE rather than cut off.
static_assert(kMaxArrivingFrames > kMaxFrames + 1 && kMaxArrivingBytes >= 2 * kMaxKeptBytes);

// Whether this build's libzmq bounds a message as it arrives (kMaxArrivingFrames, kMaxArrivingBytes:
// third_party/libzmq). Without it a peer can make a node hold a message of any number of frames; the
// nodes say so when they start.
bool ArrivingMessagesBounded();

// A message received on a ROUTER socket. `envelope` is the routing identity, plus the empty
// delimiter frame when the peer is a REQ socket; a reply sent along it reaches that peer.
struct Incoming {
  std::vector<zmq::message_t> envelope;
  std::vector<zmq::message_t> payload;
  // Non-empty when the message had more than kMaxFrames frames or kMaxKeptBytes bytes: says which.
  // Its payload was then dropped frame by frame as it was read (nothing of it is kept).
  std::string too_large;
  // The sender's principal, as the ZAP handler named it (security/zap.h); empty without CURVE.
  std::string user_id;
};

// Receives one whole multipart message from a ROUTER socket, frame by frame, keeping at most
// kMaxFrames frames and kMaxKeptBytes bytes of it (see Incoming::too_large). Returns false when none
// was waiting (only with dontwait). Never throws for peer misbehaviour.
bool RecvFromRouter(zmq::socket_t& sock, Incoming* in, bool dontwait);

// Decodes the payload of `in` (see Decode).
Decoded DecodeIncoming(const Incoming& in);

// Sends `msg` along `envelope`. Returns false when the peer is gone (ROUTER_MANDATORY).
bool SendTo(zmq::socket_t& sock, const std::vector<zmq::message_t>& envelope, const Message& msg);

// Client side (DEALER): sends an empty delimiter then `msg`, so a ROUTER peer treats us like REQ.
bool SendRequest(zmq::socket_t& sock, const Message& msg);
// DEALER peer of a ROUTER that is not REQ-style (workers): sends `msg` with no delimiter.
bool SendMessage(zmq::socket_t& sock, const Message& msg);
// Client side (DEALER): receives one reply, dropping the leading empty delimiter if present.
Decoded RecvReply(zmq::socket_t& sock);

// Socket options every Titan socket gets: short linger, bounded queues, max message size.
void ConfigureSocket(zmq::socket_t& sock);

// The port a socket bound to "tcp://host:0" actually got (parsed from ZMQ_LAST_ENDPOINT).
int BoundPort(zmq::socket_t& sock);

}  // namespace titan::wire
