// Oversized input for the limits tests: one multipart message of many large frames, sent without the
// sender holding more than one frame's bytes, and a process's peak resident memory.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <zmq.hpp>

#include "schemas/cpp/transport.h"

namespace titan::testing {

// Sends `frames` frames of `frame_bytes` bytes each (after an empty delimiter when `delimiter`) as one
// message. Every frame points at the same buffer (zero copy): the sender's memory stays small.
inline void SendOversized(zmq::socket_t& s, int64_t frames, size_t frame_bytes, bool delimiter) {
  static const std::string buffer(std::max<size_t>(frame_bytes, size_t{8} << 20), 'x');
  if (delimiter) s.send(zmq::message_t(), zmq::send_flags::sndmore);
  for (int64_t i = 0; i < frames; ++i) {
    zmq::message_t part(const_cast<char*>(buffer.data()), frame_bytes, [](void*, void*) {});
    s.send(part, i + 1 < frames ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

// A process's peak resident set in bytes (VmHWM of /proc/<pid>/status); -1 when unreadable.
inline int64_t PeakRssBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      int64_t kib = -1;
      status >> kib;
      return kib * 1024;
    }
  }
  return -1;
}

// Measures what one oversized message does to the memory of the node `pid`: from construction to
// Check(), its peak resident set may grow by no more than docs/protocol.md §7 allows for any message:
// what libzmq holds of it as it arrives (at most wire::kMaxArrivingBytes, and kMaxArrivingFrames frames,
// before it drops the connection), what the node keeps of one it reads (wire::kMaxKeptBytes), and 64 MiB
// for the allocator and libzmq's buffers. A build without the bounded libzmq
// (TITAN_BOUNDED_LIBZMQ=OFF) allows the whole message instead: `frames` x `frame_bytes`.
class PeakGrowth {
 public:
  PeakGrowth(pid_t pid, int64_t frames, size_t frame_bytes)
      : pid_(pid),
        before_(PeakRssBytes(pid)),
        bound_(
            Sanitized(Arriving(frames, frame_bytes) + int64_t{wire::kMaxKeptBytes} + (int64_t{64} << 20))) {}
  static int64_t Arriving(int64_t frames, size_t frame_bytes) {
    const int64_t whole = frames * (static_cast<int64_t>(frame_bytes) + 64);  // libzmq's msg_t per frame
    return wire::ArrivingMessagesBounded() ? std::min<int64_t>(whole, wire::kMaxArrivingBytes) : whole;
  }
  // Prints the numbers (for the record) and returns the growth, or -1 when /proc could not be read.
  int64_t Check(const char* what) const {
    const int64_t peak = PeakRssBytes(pid_);
    std::printf("%s: peak RSS %lld MiB before, %lld MiB after (allowed growth %lld MiB)\n", what,
                static_cast<long long>(before_ >> 20), static_cast<long long>(peak >> 20),
                static_cast<long long>(bound_ >> 20));
    return before_ < 0 || peak < 0 ? -1 : peak - before_;
  }
  int64_t bound() const { return bound_; }

  // Under AddressSanitizer (the tests and the nodes are built alike) every byte a node touches costs an
  // eighth more in shadow memory, and freed blocks wait in a quarantine: the bound grows by a quarter
  // and 128 MiB there.
  static int64_t Sanitized(int64_t bound) {
#if defined(__SANITIZE_ADDRESS__)
    return bound + bound / 4 + (int64_t{128} << 20);
#else
    return bound;
#endif
  }

 private:
  pid_t pid_;
  int64_t before_;
  int64_t bound_;
};

}  // namespace titan::testing
