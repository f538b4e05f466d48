// The ZAP decision and its REP socket.
#include "security/zap.h"

#include <spdlog/spdlog.h>

#include "security/curve_keys.h"

namespace titan::security {

ZapVerdict Decide(const Principals& principals, std::string_view domain, std::string_view mechanism,
                  std::string_view credential) {
  if (mechanism != "CURVE") {
    return {false, "",
            "the client did not use CURVE (" + std::string(mechanism) + "); this node requires a credential"};
  }
  const std::string key = KeyText(credential);
  const Principal* p = key.empty() ? nullptr : principals.FindKey(key);
  if (p == nullptr)
    return {false, "", "unknown key " + key.substr(0, 8) + "...; it is not in the principals file"};
  if (p->revoked()) return {false, "", "principal '" + p->name + "' was revoked"};
  const wire::Permission needs = domain == kEventsDomain   ? wire::Permission::kRead
                                 : domain == kWorkerDomain ? wire::Permission::kWorker
                                                           : wire::Permission::kNone;
  if (!Allows(p->role, needs)) {
    return {false, "",
            "principal '" + p->name + "' (role " + std::string(RoleName(p->role)) +
                ") may not connect to the " + std::string(domain) + " socket: it needs the " +
                std::string(wire::PermissionName(needs)) + " permission"};
  }
  return {true, p->name, ""};
}

std::vector<std::string> Answer(const Principals& principals, const std::vector<std::string>& request,
                                ZapVerdict* verdict) {
  const std::string id = request.size() > 1 ? request[1] : "";
  if (request.size() < 6 || request[0] != "1.0") {
    *verdict = {false, "", "not a ZAP 1.0 request"};
    return {"1.0", id, "500", verdict->reason, "", ""};
  }
  // Frames: version, request id, domain, address, routing id, mechanism, credentials...
  *verdict = Decide(principals, request[2], request[5], request.size() > 6 ? request[6] : "");
  return {"1.0",
          id,
          verdict->allowed ? "200" : "400",
          verdict->allowed ? "OK" : verdict->reason,
          verdict->user_id,
          ""};
}

ZapHandler::ZapHandler(zmq::context_t& ctx) : rep_(ctx, zmq::socket_type::rep) {
  rep_.set(zmq::sockopt::linger, 0);
  rep_.bind("inproc://zeromq.zap.01");
}

zmq::pollitem_t ZapHandler::PollItem() { return {rep_.handle(), 0, ZMQ_POLLIN, 0}; }

void ZapHandler::Serve(const Principals& principals) {
  for (;;) {
    std::vector<std::string> request;
    zmq::message_t frame;
    if (!rep_.recv(frame, zmq::recv_flags::dontwait)) return;
    request.emplace_back(frame.to_string());
    while (frame.more()) {
      (void)rep_.recv(frame, zmq::recv_flags::none);
      request.emplace_back(frame.to_string());
    }
    ZapVerdict verdict;
    const std::vector<std::string> reply = Answer(principals, request, &verdict);
    if (!verdict.allowed) {
      ++refused_;
      spdlog::warn("authentication failed for a peer at {}: {}", request.size() > 3 ? request[3] : "?",
                   verdict.reason);
    }
    for (size_t i = 0; i < reply.size(); ++i) {
      rep_.send(zmq::buffer(reply[i]),
                i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
}

}  // namespace titan::security
