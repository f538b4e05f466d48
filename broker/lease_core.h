// LeaseCore: when a broker on a PostgreSQL journal renews its lease, whether it may still acknowledge,
// and when a standby looks at the lease again. Pure: the caller passes the monotonic time and reports
// what the database said; the lease row itself (epoch, holder, expiry from the database's clock) is the
// journal's (Journal::AcquireLease, RenewLease).
//
// The database sets the expiry to its now() + ttl when it runs the renewal, which is after the broker
// sent it: so counting the TTL from the moment the renewal was sent is conservative. The broker renews
// every ttl/3 and acknowledges nothing once its last successful renewal was sent more than ttl - ttl/4
// ago: a leader that was stopped (SIGSTOP, a paused VM) past that demotes itself before another turn,
// and a commit it had begun before fails on the epoch check that starts every journal transaction.
#pragma once

#include <cstdint>

namespace titan::broker {

class LeaseCore {
 public:
  explicit LeaseCore(int64_t ttl_ms) : ttl_ms_(ttl_ms) {}

  int64_t ttl_ms() const { return ttl_ms_; }
  int64_t epoch() const { return epoch_; }
  bool held() const { return epoch_ > 0; }

  // The lease was acquired (epoch `epoch`) or renewed by a statement sent at `sent_mono_ms`.
  void Acquired(int64_t epoch, int64_t sent_mono_ms) {
    epoch_ = epoch;
    renewed_at_ = sent_mono_ms;
  }
  void Renewed(int64_t sent_mono_ms) { renewed_at_ = sent_mono_ms; }

  // Leader: a renewal is due.
  bool RenewDue(int64_t now_mono_ms) const { return now_mono_ms >= NextRenewal(); }
  int64_t NextRenewal() const { return renewed_at_ + ttl_ms_ / 3; }
  // Leader: the lease is surely still ours, with a margin for the database's and our clocks' rates.
  bool MayAcknowledge(int64_t now_mono_ms) const {
    return held() && now_mono_ms - renewed_at_ < ttl_ms_ - ttl_ms_ / 4;
  }
  // Standby: how long to wait before looking at the lease again.
  int64_t PollEveryMs() const { return ttl_ms_ / 4 > 0 ? ttl_ms_ / 4 : 1; }

 private:
  int64_t ttl_ms_;
  int64_t epoch_ = 0;
  int64_t renewed_at_ = 0;
};

}  // namespace titan::broker
