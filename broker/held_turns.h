// HeldTurns: what loop turns produced (replies, assignments, events), held until the journal commits
// they depend on are confirmed, then released in the order the turns produced them. Pure: the loop
// reports each commit's outcome (pg::Db::Pump) and sends what TakeReleasable returns.
//
// Used with pipelined commits on PostgreSQL (docs/architecture.md, "The journal"): a turn's transaction
// is sent and the loop goes on; its messages wait here. A turn that committed nothing of its own (a read,
// a heartbeat) still waits for the turns before it: what it says may rest on their state. A failed commit
// (or one confirmed after the lease may have lapsed) releases nothing, then or ever: PostgreSQL runs the
// transactions in order and fails every one after a failure, so nothing after it is durable either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "broker/broker_core.h"

namespace titan::broker {

class HeldTurns {
 public:
  // Past either bound, full(): the loop waits for the oldest commit before it begins another turn.
  struct Limits {
    size_t max_turns = 1024;
    size_t max_messages = 1 << 18;
  };
  HeldTurns() = default;
  explicit HeldTurns(Limits limits) : limits_(limits) {}

  // A turn's messages. `ticket`: the commit they wait for (tickets grow); nullopt: none of their own,
  // they wait for the newest ticket before them. After a failure they are dropped.
  void Hold(std::optional<uint64_t> ticket, std::vector<Outgoing> out);
  // Commit `ticket` is known: `committed` (it is durable) and `lease_valid` (the lease was surely still
  // this broker's when the commit was confirmed). True: the turns up to it may go (and every ticket
  // before it, confirmed in order, is durable too). False: the broker must stop: nothing held is ever
  // released.
  bool Confirm(uint64_t ticket, bool committed, bool lease_valid);
  // The messages that may leave now, in the order their turns produced them.
  std::vector<Outgoing> TakeReleasable();

  bool full() const { return turns_.size() >= limits_.max_turns || messages_ >= limits_.max_messages; }
  bool empty() const { return turns_.empty(); }
  bool failed() const { return failed_; }
  size_t messages() const { return messages_; }
  // For tests: each held turn as "ticket:messages" (the ticket it waits for: its own, or the newest
  // before it; 0: none), oldest first; "failed" after a failure. "" when nothing is held.
  std::string Render() const;

 private:
  struct Turn {
    uint64_t wait_for = 0;  // the ticket it may leave after (0: none)
    std::vector<Outgoing> out;
  };
  Limits limits_;
  std::deque<Turn> turns_;
  uint64_t issued_ = 0;     // the newest ticket Hold saw
  uint64_t confirmed_ = 0;  // every ticket up to this one is durable
  size_t messages_ = 0;
  bool failed_ = false;
};

}  // namespace titan::broker
