// NodeClient: a blocking request/reply client for the CLI and tests. Given the one address users
// know (a broker, or a store), it learns the other endpoints from HELLO/WELCOME and sends requests
// over DEALER sockets. Single-threaded; one request in flight at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"
#include "security/client_security.h"

namespace titan::wire {

class NodeClient {
 public:
  NodeClient(std::string host, int port, int timeout_ms);
  ~NodeClient();

  // Speak CURVE with `credential` (security/client_security.h) on every socket from now on; nullopt:
  // plaintext. A refused handshake fails a call with "authentication failed: ..." at once, unless the
  // credential's file changed meanwhile (security::Reread): then the call is made again with it.
  void set_credential(std::optional<security::Credential> credential);
  const std::optional<security::Credential>& credential() const { return credential_; }

  // Sends `request` to the node at host:port and waits for its reply (which may be ERROR). Returns
  // false with `error` set when no valid reply came within `timeout_ms` (or the constructor's).
  bool Call(const Message& request, Message* reply, std::string* error, int timeout_ms = -1);
  // The same, to TitanStore (found through WELCOME; the node itself when it is a store).
  bool CallStore(const Message& request, Message* reply, std::string* error);

  // HELLO once and keep the WELCOME. False with `error` when nothing answered.
  bool Discover(std::string* error);
  const WelcomeMsg& welcome() const { return welcome_; }
  // tcp://host:port of an endpoint the WELCOME announced ("store", "pub", "worker"); empty if none.
  std::string Endpoint(const std::string& which) const;
  const std::string& host() const { return host_; }
  int port() const { return port_; }

 private:
  bool RoundTrip(const std::string& endpoint, const Message& request, Message* reply, std::string* error,
                 int timeout_ms);
  bool Connect(const std::string& endpoint, std::string* error);
  void Close();

  std::string host_;
  int port_;
  int timeout_ms_;
  int64_t next_rid_ = 1;
  WelcomeMsg welcome_;
  bool discovered_ = false;
  zmq::context_t ctx_{1};
  std::optional<security::Credential> credential_;
  std::unique_ptr<zmq::socket_t> socket_;
  std::unique_ptr<security::HandshakeWatch> watch_;  // of socket_
  std::string socket_endpoint_;
};

}  // namespace titan::wire
