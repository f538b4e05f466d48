// LeaseCore: renewals every third of the TTL, acknowledging only within TTL minus a quarter of it,
// counted from when the last renewal was sent.
#include "broker/lease_core.h"

#include <gtest/gtest.h>

namespace titan::broker {
namespace {

TEST(LeaseCore, NothingIsAcknowledgedBeforeTheLeaseIsHeld) {
  LeaseCore lease(4000);
  EXPECT_FALSE(lease.held());
  EXPECT_FALSE(lease.MayAcknowledge(0));
}

TEST(LeaseCore, RenewsEveryThirdOfTheTtlCountedFromWhenTheRenewalWasSent) {
  LeaseCore lease(3000);
  lease.Acquired(7, 10'000);
  EXPECT_EQ(7, lease.epoch());
  EXPECT_FALSE(lease.RenewDue(10'999));
  EXPECT_TRUE(lease.RenewDue(11'000));
  lease.Renewed(11'000);
  EXPECT_EQ(12'000, lease.NextRenewal());
  EXPECT_FALSE(lease.RenewDue(11'999));
}

TEST(LeaseCore, StopsAcknowledgingOnceTheLastRenewalIsOlderThanTheTtlLessAQuarter) {
  LeaseCore lease(4000);
  lease.Acquired(2, 100'000);
  EXPECT_TRUE(lease.MayAcknowledge(100'000));
  EXPECT_TRUE(lease.MayAcknowledge(102'999));
  EXPECT_FALSE(lease.MayAcknowledge(103'000));  // 4000 - 1000: the database's expiry is still ahead
  EXPECT_FALSE(lease.MayAcknowledge(110'000));  // stopped past the TTL: a standby may hold it now
  lease.Renewed(110'000);                       // only a renewal the database accepted gives it back
  EXPECT_TRUE(lease.MayAcknowledge(110'001));
}

TEST(LeaseCore, AStandbyLooksAgainFourTimesPerTtl) {
  EXPECT_EQ(1000, LeaseCore(4000).PollEveryMs());
  EXPECT_EQ(1, LeaseCore(2).PollEveryMs());
}

}  // namespace
}  // namespace titan::broker
