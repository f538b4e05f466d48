// KeyMint: CURVE keypairs made ahead on a thread of their own, so a job's credential costs the broker's
// loop a non-blocking receive instead of a Curve25519 scalar multiplication (~30 us). The thread owns
// nothing but its end of an inproc PAIR socket and blocks once about `reserve` keypairs wait in the pipe,
// which is the only buffer; Take falls back to making one inline when none is ready.
#pragma once

#include <atomic>
#include <thread>
#include <zmq.hpp>

#include "base/status.h"
#include "security/curve_keys.h"

namespace titan::security {

class KeyMint {
 public:
  KeyMint(zmq::context_t& ctx, int reserve = 512);
  ~KeyMint();  // stops and joins the thread
  KeyMint(const KeyMint&) = delete;
  KeyMint& operator=(const KeyMint&) = delete;

  // A keypair made ahead, or (none ready) a fresh one.
  Result<Keypair> Take();

 private:
  void Run(zmq::context_t& ctx, std::string endpoint, int reserve);

  zmq::socket_t pair_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace titan::security
