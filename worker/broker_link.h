// BrokerLink: the worker's connection to its broker as a state machine driven by the worker loop.
//   kDiscovering: HELLO sent to the broker's client address, waiting for WELCOME (backoff on silence)
//   kRegistering: WORKER_READY sent on the worker socket, waiting for WORKER_WELCOME
//   kReady:       registered; heartbeats both ways
// A broker silent for 10 heartbeats (or half the fencing lease, if that is shorter, but at least 3)
// sends the link back to kDiscovering (a new connection),
// so a restarted broker is re-joined without restarting the worker. Never blocks. Every timer (HELLO
// backoff, heartbeats, the broker's silence) runs on the monotonic part of the Instants it is given:
// setting the wall clock never makes the broker look gone.
// Several brokers sharing a PostgreSQL journal (host "a,b", host:port entries allowed): a HELLO answered
// NOT_LEADER goes next to the leader the standby names (or the next address), a HELLO nothing answers to
// the next address; so after a takeover the link registers with the new leader (WORKER_READY carries its
// running jobs, which the new leader's recovery grace adopts).
// A refused handshake (seen on a socket monitor) re-reads the credential file: when it changed (a
// rotated server key, a re-issued key) the link starts over with it, so a worker survives
// `titan keys rotate` without a restart; otherwise the refusal is logged once and ZeroMQ keeps retrying.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <zmq.hpp>

#include "base/broker_addresses.h"
#include "base/clock.h"
#include "schemas/generated/messages.h"
#include "security/client_security.h"
#include "security/credential.h"

namespace titan::worker {

// A message from the broker on the worker socket, with the request id (`rid`) it answers, if any.
struct Inbound {
  wire::Message msg;
  std::optional<int64_t> rid;
};

class BrokerLink {
 public:
  enum class State { kDiscovering, kRegistering, kReady };

  // `make_ready` builds the WORKER_READY to send (it carries running jobs and unacked results).
  // With `credential`, both sockets speak CURVE with it.
  BrokerLink(zmq::context_t& ctx, std::string host, int port, int heartbeat_ms,
             std::function<wire::WorkerReadyMsg()> make_ready,
             std::optional<security::Credential> credential = std::nullopt);

  State state() const { return state_; }
  // Poll items for the socket in use and its handshake monitor (0 or 2; never more than 2);
  // `want_out` also asks for POLLOUT on the worker socket.
  size_t AddPollItems(zmq::pollitem_t* items, bool want_out);
  // After poll: reads what arrived; returns the worker-dialog messages for the loop to handle
  // (WORKER_WELCOME and HEARTBEAT are handled here, but WORKER_WELCOME is passed on too).
  std::vector<Inbound> Receive(Instant now);
  // Timers: resend HELLO, heartbeat, declare the broker dead. Returns when it next needs a call
  // (monotonic ms). `heartbeat` builds the HEARTBEAT to send; it is called only when one is due.
  int64_t Tick(Instant now, const std::function<wire::HeartbeatMsg()>& heartbeat);
  // Sends on the worker socket; false when not connected or the socket is full.
  bool Send(const wire::Message& msg);
  bool Writable();
  // Whether anything came from the broker on the worker socket since the last call (the worker's
  // fencing lease starts again).
  bool TakeHeard() { return std::exchange(heard_, false); }
  // Re-sends WORKER_READY on the current connection. hold (after DISCONNECT: the broker does not know
  // this worker): nothing else is sent until its WORKER_WELCOME. Otherwise (a lapsed lease) what follows
  // goes out behind it, in order, and the silence before a reconnect keeps counting.
  void Reregister(Instant now, bool hold = true);
  std::optional<int> store_port() const { return store_port_; }
  // The server key of a credential file that changed since the last call (the worker then gives it to
  // its running jobs' credentials); nullopt when none did.
  std::optional<std::string> TakeNewServerKey();

 private:
  // How long the next HELLO waits for an answer before another one is sent.
  int64_t Backoff() const;
  // How long the broker may be silent before the link reconnects from scratch (broker_link.cc).
  int64_t SilenceLimitMs() const;
  void StartDiscovery(int64_t now);
  void OnWelcome(const wire::Decoded& d, int64_t now);  // the HELLO socket's answer
  // A standby answered the HELLO: on to the leader it names. False: nowhere else to go.
  bool OnNotLeader(const wire::Decoded& d, int64_t now);
  void UseCurrentAddress();                                     // host_, port_ from addresses_
  void OnWorkerWelcome(const wire::WorkerWelcomeMsg& welcome);  // registered
  // A DEALER to `endpoint` with the credential, watched for refused handshakes (watch_).
  std::unique_ptr<zmq::socket_t> Open(const std::string& endpoint);
  // The handshake with the broker failed (`failure` says why): re-read the credential file.
  void OnRefused(const std::string& failure, int64_t now);

  zmq::context_t& ctx_;
  std::optional<BrokerAddresses> addresses_;  // nullopt: the host as given (not a list this parses)
  std::string host_;                          // the broker in use
  int port_;
  int heartbeat_ms_;
  std::function<wire::WorkerReadyMsg()> make_ready_;
  std::optional<security::Credential> credential_;
  State state_ = State::kDiscovering;
  std::unique_ptr<zmq::socket_t> hello_, worker_;  // at most one of them at a time
  std::string endpoint_;                           // the one that socket connects to
  // The open socket's handshake monitor: declared after the sockets, so destroyed before them.
  std::unique_ptr<security::HandshakeWatch> watch_;
  bool refused_ = false;  // a refusal was logged since the last WORKER_WELCOME
  std::string refusal_;   // ... and what it said (repeated in place of "no answer" while it lasts)
  std::optional<std::string> new_server_key_;
  int64_t hello_deadline_ = 0;
  int64_t unanswered_ = 0;  // HELLOs in a row nothing answered: the next one waits BackoffMs of it
  bool heard_ = false;      // TakeHeard
  int64_t lease_ms_ = 0;    // the fencing lease of the last WORKER_WELCOME; 0: none
  int64_t last_heard_ = 0;  // monotonic ms, as every time below
  int64_t next_heartbeat_ = 0;
  std::optional<int> store_port_;
};

}  // namespace titan::worker
