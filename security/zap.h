// ZAP (ZeroMQ RFC 27): libzmq asks the process's ZAP handler, over inproc://zeromq.zap.01, whether a
// peer that completed the CURVE handshake may connect. Decide() is the pure answer; ZapHandler is the
// REP socket that the process's one loop polls (no second thread). An allowed peer's messages carry
// its principal's name as the ZeroMQ "User-Id" property (wire::Incoming::user_id).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "security/principals.h"

namespace titan::security {

struct ZapVerdict {
  bool allowed = false;
  std::string user_id;  // the principal's name when allowed
  std::string reason;   // why not, when refused (logged; status_text of the ZAP reply)
};

// The ZAP domains of Titan's server sockets, and what a principal needs to connect to each: any role
// for the client sockets (each request is checked by ServerSecurity::Authorize), the read permission
// for the event PUB socket, the worker permission for the worker socket.
inline constexpr std::string_view kClientDomain = "titan";
inline constexpr std::string_view kEventsDomain = "titan-events";
inline constexpr std::string_view kWorkerDomain = "titan-workers";

// Whether a peer connecting to a socket of `domain`, authenticating with `mechanism` ("NULL", "PLAIN",
// "CURVE") and `credential` (for CURVE: its raw 32-byte public key) may connect: only a known,
// unrevoked CURVE key whose role the domain accepts may.
ZapVerdict Decide(const Principals& principals, std::string_view domain, std::string_view mechanism,
                  std::string_view credential);

// The reply frames to a ZAP request's frames: version, request id, status code ("200", "400" or "500"
// for a request that is not ZAP 1.0), status text, user id, metadata.
std::vector<std::string> Answer(const Principals& principals, const std::vector<std::string>& request,
                                ZapVerdict* verdict);

class ZapHandler {
 public:
  // Binds inproc://zeromq.zap.01 on `ctx`: do it before any server socket of `ctx` binds.
  explicit ZapHandler(zmq::context_t& ctx);
  zmq::pollitem_t PollItem();
  // Answers every request waiting, deciding with `principals`; logs each refusal with the peer's address.
  void Serve(const Principals& principals);
  int64_t refused() const { return refused_; }

 private:
  zmq::socket_t rep_;
  int64_t refused_ = 0;
};

}  // namespace titan::security
