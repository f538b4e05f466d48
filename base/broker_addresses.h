// BrokerAddresses: the brokers a client, the CLI or a worker may talk to (one active, the others standbys
// on the same PostgreSQL journal), and which one to try next. Pure: the caller reports what happened.
//
// Given as "a,b" or "a:9090,b:9190" (--host repeated or comma-separated, TITAN_HOST): an entry without a
// port takes the default port (--port, TITAN_PORT). IPv6 literals are written in brackets ("[::1]:9090").
// A NOT_LEADER reply names the leader: it becomes the current address (added when it was not listed).
// Silence moves on to the next address, in order, wrapping around.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace titan {

struct BrokerAddress {
  std::string host;
  int port = 0;
  bool operator==(const BrokerAddress&) const = default;
  std::string ToString() const;  // host:port ([host]:port for an IPv6 literal)
};

class BrokerAddresses {
 public:
  // Parses `hosts` (see above); Invalid, naming the bad entry, for an empty list or a bad port.
  static Result<BrokerAddresses> Parse(const std::string& hosts, int default_port);
  // One "host:port" (as a leader is named); nullopt when it is not of that form.
  static std::optional<BrokerAddress> ParseOne(const std::string& entry, int default_port);

  const BrokerAddress& current() const { return list_[current_]; }
  const std::vector<BrokerAddress>& all() const { return list_; }
  size_t size() const { return list_.size(); }

  // The current address did not answer in time: the next one becomes current.
  void NoAnswer() { current_ = (current_ + 1) % list_.size(); }
  // The current address answered NOT_LEADER naming `leader` ("host:port", empty when unknown): it becomes
  // current (appended when not listed). An empty or unreadable one, or the current address itself,
  // moves on as silence does. Returns whether the new current address is another one.
  bool NotLeader(const std::string& leader);

 private:
  std::vector<BrokerAddress> list_;
  size_t current_ = 0;
};

}  // namespace titan
