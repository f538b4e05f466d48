// Blocking request/reply with timeout and HELLO-based discovery.
#include "store_client.h"

#include <chrono>

#include "transport.h"

namespace titan::store {

StoreClient::StoreClient(std::string host, int port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

bool StoreClient::RoundTrip(const std::string& endpoint, const wire::Message& request, wire::Message* reply,
                            std::string* error) {
  if (!socket_ || socket_endpoint_ != endpoint) {
    socket_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    wire::ConfigureSocket(*socket_);
    socket_->set(zmq::sockopt::linger, 0);
    socket_->connect(endpoint);
    socket_endpoint_ = endpoint;
  }
  wire::Message req = request;
  const int64_t rid = next_rid_++;
  req.Set("rid", wire::Datum(rid));
  if (!wire::SendRequest(*socket_, req)) {
    *error = "cannot send to " + endpoint;
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms_);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    zmq::pollitem_t item{socket_->handle(), 0, ZMQ_POLLIN, 0};
    if (left.count() <= 0 || zmq::poll(&item, 1, left) == 0) {
      socket_.reset();  // drop whatever answer may still come
      *error = "no answer from " + endpoint + " within " + std::to_string(timeout_ms_) +
               " ms: is `titan up` or `titan store` running there? (set --host/--port or TITAN_HOST/TITAN_PORT)";
      return false;
    }
    wire::Decoded d = wire::RecvReply(*socket_);
    if (d.status != wire::DecodeStatus::kOk) {
      *error = "bad reply from " + endpoint + ": " + d.reason;
      return false;
    }
    if (d.rid && *d.rid != rid) continue;  // a late answer to an earlier request
    *reply = std::move(d.msg);
    return true;
  }
}

bool StoreClient::Discover(std::string* error) {
  const std::string entry = "tcp://" + host_ + ":" + std::to_string(port_);
  wire::Message welcome;
  if (!RoundTrip(entry, wire::MakeMessage(wire::MsgType::kHello).Set("client", wire::Datum(wire::Text{"titan-cli"})),
                 &welcome, error)) {
    return false;
  }
  if (welcome.type != wire::MsgType::kWelcome) {
    *error = entry + " answered HELLO with " + std::string(wire::NameOf(welcome.type)) + ": " +
             std::string(welcome.Bytes("reason"));
    return false;
  }
  if (!welcome.Has("store_port")) {
    store_endpoint_ = entry;
  } else {
    const std::string host = welcome.Has("store_host") ? std::string(welcome.Bytes("store_host")) : host_;
    store_endpoint_ = "tcp://" + host + ":" + std::to_string(welcome.Int("store_port"));
  }
  return true;
}

bool StoreClient::Call(const wire::Message& request, wire::Message* reply, std::string* error) {
  if (store_endpoint_.empty() && !Discover(error)) return false;
  return RoundTrip(store_endpoint_, request, reply, error);
}

}  // namespace titan::store
