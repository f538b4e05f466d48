// Moving Messages over ZeroMQ sockets: ROUTER envelopes, multipart send/receive. Not thread-safe:
// call only from the thread that owns the socket.
#pragma once

#include <string>
#include <vector>
#include <zmq.hpp>

#include "schemas/cpp/codec.h"

namespace titan::wire {

// A message received on a ROUTER socket. `envelope` is the routing identity, plus the empty
// delimiter frame when the peer is a REQ socket; a reply sent along it reaches that peer.
struct Incoming {
  std::vector<zmq::message_t> envelope;
  std::vector<zmq::message_t> payload;
  bool too_many_frames = false;  // frames past the limit were received and discarded
  // The sender's principal, as the ZAP handler named it (security/zap.h); empty without CURVE.
  std::string user_id;
};

// Receives one whole multipart message from a ROUTER socket. Returns false when none was waiting
// (only with dontwait). Never throws for peer misbehaviour.
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
