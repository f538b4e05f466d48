// StoreClient: a blocking TitanStore client for the CLI and tests. Given the one address users know
// (a broker or a store), it discovers the store with HELLO and then sends requests over a DEALER.
// Single-threaded; one request in flight at a time.
#pragma once

#include <zmq.hpp>

#include <memory>
#include <string>

#include "codec.h"

namespace titan::store {

class StoreClient {
 public:
  StoreClient(std::string host, int port, int timeout_ms);

  // Sends `request` and waits for its reply (which may be ERROR). Returns false with `error` set
  // when no valid reply came within the timeout.
  bool Call(const wire::Message& request, wire::Message* reply, std::string* error);

  // The store endpoint in use (after the first successful Call).
  const std::string& store_endpoint() const { return store_endpoint_; }

 private:
  bool Discover(std::string* error);
  bool RoundTrip(const std::string& endpoint, const wire::Message& request, wire::Message* reply, std::string* error);

  std::string host_;
  int port_;
  int timeout_ms_;
  int64_t next_rid_ = 1;
  std::string store_endpoint_;
  zmq::context_t ctx_{1};
  std::unique_ptr<zmq::socket_t> socket_;
  std::string socket_endpoint_;
};

}  // namespace titan::store
