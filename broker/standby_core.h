// StandbyCore: what a standby broker (a second broker on a PostgreSQL journal whose lease another holds)
// answers on its client port, and when it looks at the lease again. Pure: the caller passes the
// monotonic time and what the lease row said (Journal::AcquireLease).
//
// Every request, HELLO included, is answered ERROR NOT_LEADER naming the leader's advertised client
// address while the lease is believed held; once the lease has expired by what the row said (the leader
// stopped renewing), no leader is named: this broker is about to take over, and clients retry it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "broker/journal.h"
#include "schemas/generated/messages.h"

namespace titan::broker {

class StandbyCore {
 public:
  explicit StandbyCore(int64_t poll_every_ms) : poll_every_ms_(poll_every_ms) {}

  // The lease row as a look at `now_mono_ms` found it (not acquired: another broker holds it).
  void Saw(const Journal::Lease& lease, int64_t now_mono_ms) {
    leader_ = lease.address;
    holder_ = lease.holder;
    expires_at_ = now_mono_ms + lease.expires_in_ms;
    next_look_ = now_mono_ms + poll_every_ms_;
  }
  bool LookDue(int64_t now_mono_ms) const { return now_mono_ms >= next_look_; }
  int64_t NextLook() const { return next_look_; }

  // The leader to name at `now_mono_ms`: nullopt when none is known or its lease has run out.
  std::optional<std::string> Leader(int64_t now_mono_ms) const {
    if (leader_.empty() || now_mono_ms >= expires_at_) return std::nullopt;
    return leader_;
  }

  // The answer to any request (its rid added by the caller).
  wire::Message Answer(int64_t now_mono_ms) const {
    const std::optional<std::string> leader = Leader(now_mono_ms);
    std::string reason =
        leader ? "this broker is a standby; the leader is " + *leader +
                     ": send requests there (give clients every broker: TITAN_HOST=a,b or --host a,b)"
               : "this broker is a standby and the leader" + (holder_.empty() ? "" : " (" + holder_ + ")") +
                     " is not renewing its lease: this broker takes over within the lease's TTL; retry";
    wire::ErrorMsg error{.code = std::string(wire::ErrorCodeName(wire::ErrorCode::kNotLeader)),
                         .reason = std::move(reason)};
    if (leader) error.leader = *leader;
    return error.ToMessage();
  }

 private:
  int64_t poll_every_ms_;
  std::string leader_, holder_;
  int64_t expires_at_ = 0;
  int64_t next_look_ = 0;  // the first look is due at once
};

}  // namespace titan::broker
