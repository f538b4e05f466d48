// The client side of CURVE: finding this client's credential, applying it to a socket, and telling a
// refused handshake apart from a node that does not answer (HandshakeWatch), so a user reads
// "authentication failed: ..." instead of waiting for a timeout. The Python SDK does the same
// (sdk/python/titan_sdk/credentials.py, transport.py).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "base/status.h"
#include "security/credential.h"

namespace titan::security {

// $TITAN_HOME (default ~/.titan)/clusters/HOST-PORT.cred: the link `titan up` makes to the admin
// credential of the broker it runs at host:port.
std::string ClusterLink(const std::string& host, int port);

// The credential to use: `explicit_path` (--credentials), else $TITAN_CREDENTIALS, else ClusterLink when
// it exists; nullopt when there is none (plaintext: only a keyless node on loopback accepts it). An error
// when a named file cannot be read or is not a credential.
Result<std::optional<Credential>> FindCredential(const std::string& explicit_path, const std::string& host,
                                                 int port);

// The credential now in `c.path` when that file holds another one than `c` (a rotated server key, a
// re-issued keypair): what a client re-reads after a refused handshake, so that it survives
// `titan keys rotate` without a restart. nullopt when `c` has no path, or the file is unchanged or
// cannot be read (the caller keeps `c`).
std::optional<Credential> Reread(const Credential& c);

// Makes `sock` a CURVE client with `c` (before connect).
void SecureClient(zmq::socket_t& sock, const Credential& c);

// Watches `sock`'s handshakes through a ZeroMQ socket monitor. Create it before the socket connects;
// destroy it before the socket.
class HandshakeWatch {
 public:
  HandshakeWatch(zmq::context_t& ctx, zmq::socket_t& sock);
  ~HandshakeWatch();
  HandshakeWatch(const HandshakeWatch&) = delete;
  HandshakeWatch& operator=(const HandshakeWatch&) = delete;

  zmq::pollitem_t PollItem();
  // After poll: "authentication failed: <why>; pass --credentials or set TITAN_CREDENTIALS" when a
  // handshake failed (`who` names the credential used, or is empty), else nullopt.
  std::optional<std::string> TakeFailure(const std::string& endpoint, const std::string& who);

 private:
  zmq::socket_t& sock_;
  zmq::socket_t pair_;
};

}  // namespace titan::security
