#include "base/broker_addresses.h"

#include <algorithm>
#include <charconv>

namespace titan {

std::string BrokerAddress::ToString() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<BrokerAddress> BrokerAddresses::ParseOne(const std::string& entry, int default_port) {
  std::string host = entry;
  std::string port;
  if (!host.empty() && host.front() == '[') {  // [v6]:port or [v6]
    const size_t close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    const std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
    }
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    port = host.substr(host.find(':') + 1);
    host = host.substr(0, host.find(':'));
  }  // more than one ':' and no brackets: an IPv6 literal without a port
  if (host.empty()) return std::nullopt;
  int p = default_port;
  if (!port.empty()) {
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || end != port.data() + port.size()) return std::nullopt;
  }
  if (p < 1 || p > 65535) return std::nullopt;
  return BrokerAddress{host, p};
}

Result<BrokerAddresses> BrokerAddresses::Parse(const std::string& hosts, int default_port) {
  BrokerAddresses out;
  size_t start = 0;
  while (start <= hosts.size()) {
    size_t comma = hosts.find(',', start);
    if (comma == std::string::npos) comma = hosts.size();
    std::string entry = hosts.substr(start, comma - start);
    entry.erase(0, entry.find_first_not_of(" \t\n"));
    entry.erase(entry.find_last_not_of(" \t\n") + 1);
    start = comma + 1;
    if (entry.empty()) continue;
    const std::optional<BrokerAddress> a = ParseOne(entry, default_port);
    if (!a) {
      return Status::Invalid("broker address '" + entry +
                             "' is not host, host:port or [ipv6]:port with a port from 1 to 65535");
    }
    if (std::find(out.list_.begin(), out.list_.end(), *a) == out.list_.end()) out.list_.push_back(*a);
  }
  if (out.list_.empty()) {
    return Status::Invalid("no broker address given; name one or more as host[:port], comma-separated");
  }
  return out;
}

bool BrokerAddresses::NotLeader(const std::string& leader) {
  const size_t before = current_;
  const std::optional<BrokerAddress> named = ParseOne(leader, current().port);
  if (!named || *named == current()) {
    NoAnswer();
    return current_ != before;
  }
  auto it = std::find(list_.begin(), list_.end(), *named);
  if (it == list_.end()) it = list_.insert(list_.end(), *named);
  current_ = static_cast<size_t>(it - list_.begin());
  return true;
}

}  // namespace titan
