// Credential lookup, CURVE client options and the handshake monitor.
#include "security/client_security.h"

#include <zmq.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace titan::security {
namespace {

constexpr int kHandshakeFailures = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;

std::string TitanHome() {
  const char* home = std::getenv("TITAN_HOME");
  if (home && *home) return home;
  const char* user = std::getenv("HOME");
  return std::string(user ? user : ".") + "/.titan";
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::string ClusterLink(const std::string& host, int port) {
  return TitanHome() + "/clusters/" + host + "-" + std::to_string(port) + ".cred";
}

Result<std::optional<Credential>> FindCredential(const std::string& explicit_path, const std::string& host,
                                                 int port) {
  std::string path = explicit_path.empty() ? Env("TITAN_CREDENTIALS") : explicit_path;
  if (path.empty()) {
    std::error_code ec;
    path = ClusterLink(host, port);
    if (!std::filesystem::exists(path, ec)) return std::optional<Credential>();  // a dangling link too
  }
  Result<Credential> c = ReadCredential(path);
  if (!c.ok()) return c.status();
  return std::optional<Credential>(std::move(*c));
}

std::optional<Credential> Reread(const Credential& c) {
  if (c.path.empty()) return std::nullopt;
  Result<Credential> now = ReadCredential(c.path);
  if (!now.ok() || (now->server_key == c.server_key && now->public_key == c.public_key &&
                    now->secret_key == c.secret_key)) {
    return std::nullopt;
  }
  return std::move(*now);
}

void SecureClient(zmq::socket_t& sock, const Credential& c) {
  sock.set(zmq::sockopt::curve_serverkey, c.server_key);
  sock.set(zmq::sockopt::curve_publickey, c.public_key);
  sock.set(zmq::sockopt::curve_secretkey, c.secret_key);
}

HandshakeWatch::HandshakeWatch(zmq::context_t& ctx, zmq::socket_t& sock)
    : sock_(sock), pair_(ctx, zmq::socket_type::pair) {
  static std::atomic<int> next{0};
  const std::string endpoint = "inproc://titan-handshake-" + std::to_string(next++);
  zmq_socket_monitor(sock.handle(), endpoint.c_str(), kHandshakeFailures);
  pair_.set(zmq::sockopt::linger, 0);
  pair_.connect(endpoint);
}

HandshakeWatch::~HandshakeWatch() { zmq_socket_monitor(sock_.handle(), nullptr, 0); }

zmq::pollitem_t HandshakeWatch::PollItem() { return {pair_.handle(), 0, ZMQ_POLLIN, 0}; }

std::optional<std::string> HandshakeWatch::TakeFailure(const std::string& endpoint, const std::string& who) {
  std::optional<std::string> failure;
  for (;;) {
    zmq::message_t event, address;
    if (!pair_.recv(event, zmq::recv_flags::dontwait)) return failure;
    if (event.more()) (void)pair_.recv(address, zmq::recv_flags::none);
    if (event.size() < 2) continue;
    uint16_t id = 0;
    std::memcpy(&id, event.data(), sizeof id);
    const std::string credential = who.empty() ? "no credential" : who;
    std::string why;
    if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      why = "the node at " + endpoint + " refused " + credential +
            ": the key is unknown there or was revoked, or its role may not use this port (a broker's worker "
            "port admits only role worker)";
    } else if (who.empty()) {
      why = "the node at " + endpoint + " requires a credential (CURVE)";
    } else {
      why = "the CURVE handshake with " + endpoint + " failed for " + credential +
            " (does the node use these keys?)";
    }
    failure = "authentication failed: " + why + "; pass --credentials or set TITAN_CREDENTIALS";
  }
}

}  // namespace titan::security
