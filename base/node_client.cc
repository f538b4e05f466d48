// Blocking request/reply with timeout and HELLO-based discovery.
#include "base/node_client.h"

#include <chrono>

#include "schemas/cpp/transport.h"

namespace titan::wire {

NodeClient::NodeClient(std::string host, int port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}

NodeClient::~NodeClient() { Close(); }

void NodeClient::set_credential(std::optional<security::Credential> credential) {
  credential_ = std::move(credential);
  Close();
}

void NodeClient::Close() {
  watch_.reset();  // before its socket
  socket_.reset();
}

bool NodeClient::Connect(const std::string& endpoint, std::string* error) {
  Close();
  socket_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
  ConfigureSocket(*socket_);
  socket_->set(zmq::sockopt::linger, 0);
  if (credential_) security::SecureClient(*socket_, *credential_);
  watch_ = std::make_unique<security::HandshakeWatch>(ctx_, *socket_);
  try {
    socket_->connect(endpoint);
  } catch (const zmq::error_t& e) {  // a host name ZeroMQ cannot parse or resolve
    Close();
    *error =
        "cannot connect to " + endpoint + " (" + e.what() + "): check --host/--port or TITAN_HOST/TITAN_PORT";
    return false;
  }
  socket_endpoint_ = endpoint;
  return true;
}

bool NodeClient::RoundTrip(const std::string& endpoint, const Message& request, Message* reply,
                           std::string* error, int timeout_ms) {
  if ((!socket_ || socket_endpoint_ != endpoint) && !Connect(endpoint, error)) return false;
  Message req = request;
  const int64_t rid = next_rid_++;
  req.Set("rid", Datum(rid));
  if (!SendRequest(*socket_, req)) {
    *error = "cannot send to " + endpoint;
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    zmq::pollitem_t items[] = {{socket_->handle(), 0, ZMQ_POLLIN, 0}, watch_->PollItem()};
    if (left.count() > 0 && zmq::poll(items, 2, left) > 0 && (items[1].revents & ZMQ_POLLIN)) {
      const std::string who = credential_ ? "principal '" + credential_->principal + "'" : "";
      if (std::optional<std::string> refused = watch_->TakeFailure(endpoint, who)) {
        Close();
        if (std::optional<security::Credential> fresh =
                credential_ ? security::Reread(*credential_) : std::nullopt) {
          credential_ = std::move(fresh);  // the file changed (a rotated server key): once more with it
          return RoundTrip(endpoint, request, reply, error, timeout_ms);
        }
        *error = *refused;
        return false;
      }
      continue;
    }
    if (!(items[0].revents & ZMQ_POLLIN)) {
      Close();  // drop whatever answer may still come
      *error = "no answer from " + endpoint + " within " + std::to_string(timeout_ms) +
               " ms: is `titan up`, `titan broker` or `titan store` running there? (set --host/--port or "
               "TITAN_HOST/TITAN_PORT)";
      return false;
    }
    Decoded d = RecvReply(*socket_);
    if (d.status != DecodeStatus::kOk) {
      *error = "bad reply from " + endpoint + ": " + d.reason;
      return false;
    }
    if (d.rid && *d.rid != rid) continue;  // a late answer to an earlier request
    *reply = std::move(d.msg);
    return true;
  }
}

bool NodeClient::Discover(std::string* error) {
  if (discovered_) return true;
  const std::string entry = "tcp://" + host_ + ":" + std::to_string(port_);
  Message reply;
  if (!RoundTrip(entry, HelloMsg{.client = "titan-cli"}.ToMessage(), &reply, error, timeout_ms_))
    return false;
  Result<WelcomeMsg> welcome = WelcomeMsg::From(reply);
  if (!welcome.ok()) {
    *error = entry + " answered HELLO with " + std::string(NameOf(reply.type)) + ": " + welcome.message();
    return false;
  }
  welcome_ = std::move(welcome).value();
  discovered_ = true;
  return true;
}

std::string NodeClient::Endpoint(const std::string& which) const {
  const std::string self = "tcp://" + host_ + ":" + std::to_string(port_);
  if (which == "store" && welcome_.node == "store") return self;
  const std::optional<int64_t> port = which == "store"    ? welcome_.store_port
                                      : which == "pub"    ? welcome_.pub_port
                                      : which == "worker" ? welcome_.worker_port
                                                          : std::nullopt;
  if (!port) return "";
  const std::string host = which == "store" && welcome_.store_host ? *welcome_.store_host : host_;
  return "tcp://" + host + ":" + std::to_string(*port);
}

bool NodeClient::Call(const Message& request, Message* reply, std::string* error, int timeout_ms) {
  return RoundTrip("tcp://" + host_ + ":" + std::to_string(port_), request, reply, error,
                   timeout_ms < 0 ? timeout_ms_ : timeout_ms);
}

bool NodeClient::CallStore(const Message& request, Message* reply, std::string* error) {
  if (!Discover(error)) return false;
  const std::string store = Endpoint("store");
  if (store.empty()) {
    *error = "the node at " + host_ + ":" + std::to_string(port_) + " announced no TitanStore";
    return false;
  }
  return RoundTrip(store, request, reply, error, timeout_ms_);
}

}  // namespace titan::wire
