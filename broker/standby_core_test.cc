#include "broker/standby_core.h"

#include <gtest/gtest.h>

namespace titan::broker {
namespace {

Journal::Lease HeldBy(const std::string& address, int64_t expires_in_ms) {
  Journal::Lease l;
  l.epoch = 3;
  l.holder = "host-a:42";
  l.address = address;
  l.expires_in_ms = expires_in_ms;
  return l;
}

TEST(StandbyCore, TheFirstLookIsDueAtOnceThenEveryPollPeriod) {
  StandbyCore s(1000);
  EXPECT_TRUE(s.LookDue(0));
  s.Saw(HeldBy("a:9090", 4000), 500);
  EXPECT_FALSE(s.LookDue(1499));
  EXPECT_TRUE(s.LookDue(1500));
  EXPECT_EQ(1500, s.NextLook());
}

TEST(StandbyCore, NamesTheLeaderWhileItsLeaseRuns) {
  StandbyCore s(1000);
  s.Saw(HeldBy("a:9090", 4000), 100);
  const wire::Message m = s.Answer(200);
  const Result<wire::ErrorMsg> e = wire::ErrorMsg::From(m);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ("NOT_LEADER", e->code);
  ASSERT_TRUE(e->leader.has_value());
  EXPECT_EQ("a:9090", *e->leader);
  EXPECT_NE(std::string::npos, e->reason.find("a:9090"));
}

TEST(StandbyCore, NamesNoLeaderOnceItsLeaseRanOutOrWhenItIsUnknown) {
  StandbyCore s(1000);
  s.Saw(HeldBy("a:9090", 4000), 100);
  EXPECT_FALSE(s.Leader(4100).has_value());
  const Result<wire::ErrorMsg> e = wire::ErrorMsg::From(s.Answer(4100));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ("NOT_LEADER", e->code);
  EXPECT_FALSE(e->leader.has_value());
  EXPECT_NE(std::string::npos, e->reason.find("takes over"));
  StandbyCore old(1000);  // a leader of an older broker, which recorded no address
  old.Saw(HeldBy("", 4000), 0);
  EXPECT_FALSE(old.Leader(1).has_value());
  StandbyCore fresh(1000);  // before the first look
  EXPECT_FALSE(fresh.Leader(0).has_value());
}

}  // namespace
}  // namespace titan::broker
