// SignalWatch: SIGINT/SIGTERM as a file descriptor for a zmq::poll loop (signalfd), so a process
// stops between loop turns instead of inside a handler. Construct before starting any thread.
#pragma once

#include <zmq.hpp>

namespace titan {

class SignalWatch {
 public:
  SignalWatch();  // blocks SIGINT, SIGTERM (and ignores SIGPIPE) for this thread and its children-to-be
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  int fd() const { return fd_; }
  zmq::pollitem_t PollItem() const { return {nullptr, fd_, ZMQ_POLLIN, 0}; }
  // Reads the pending signal; returns its number, or 0 if none.
  int Take();

 private:
  int fd_ = -1;
};

// Prints "READY <role> <endpoint>" on stdout and flushes: the one line tests and `titan up` wait for.
void AnnounceReady(const char* role, const std::string& endpoint);

}  // namespace titan
