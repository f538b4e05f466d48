// KeyMint: keypairs made ahead on their own thread (key_mint.h).
#include "security/key_mint.h"

#include <spdlog/spdlog.h>

#include <atomic>

namespace titan::security {
namespace {

std::string MintEndpoint() {
  static std::atomic<int> next{0};
  return "inproc://titan-key-mint-" + std::to_string(next++);
}

}  // namespace

KeyMint::KeyMint(zmq::context_t& ctx, int reserve) : pair_(ctx, zmq::socket_type::pair) {
  const std::string endpoint = MintEndpoint();
  pair_.set(zmq::sockopt::rcvhwm, reserve / 2);
  pair_.set(zmq::sockopt::linger, 0);
  pair_.bind(endpoint);
  thread_ = std::thread([this, &ctx, endpoint, reserve] { Run(ctx, endpoint, reserve); });
}

KeyMint::~KeyMint() {
  stop_ = true;
  thread_.join();
}

void KeyMint::Run(zmq::context_t& ctx, std::string endpoint, int reserve) {
  zmq::socket_t out(ctx, zmq::socket_type::pair);
  out.set(zmq::sockopt::sndhwm, reserve / 2);
  out.set(zmq::sockopt::sndtimeo, 100);  // a full pipe is re-tried, so stop_ is seen within 100 ms
  out.set(zmq::sockopt::linger, 0);
  out.connect(endpoint);
  std::string pending;
  while (!stop_) {
    if (pending.empty()) {
      Result<Keypair> k = NewKeypair();
      if (!k.ok()) {
        spdlog::error("key mint: {}; job credentials are made on the loop", k.message());
        return;
      }
      pending = k->public_key + k->secret_key;
    }
    try {
      if (out.send(zmq::buffer(pending), zmq::send_flags::none)) pending.clear();
    } catch (const zmq::error_t&) {
      return;  // the context is ending
    }
  }
}

Result<Keypair> KeyMint::Take() {
  zmq::message_t m;
  if (pair_.recv(m, zmq::recv_flags::dontwait) && m.size() == 80) {
    const std::string_view both = m.to_string_view();
    return Keypair{std::string(both.substr(0, 40)), std::string(both.substr(40))};
  }
  return NewKeypair();
}

}  // namespace titan::security
