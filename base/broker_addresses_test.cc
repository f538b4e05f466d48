#include "base/broker_addresses.h"

#include <gtest/gtest.h>

namespace titan {
namespace {

TEST(BrokerAddresses, ParsesHostsWithAndWithoutPorts) {
  Result<BrokerAddresses> a = BrokerAddresses::Parse("a, b:9190,[::1]:7,c", 9090);
  ASSERT_TRUE(a.ok()) << a.message();
  ASSERT_EQ(a->size(), 4u);
  EXPECT_EQ(a->all()[0], (BrokerAddress{"a", 9090}));
  EXPECT_EQ(a->all()[1], (BrokerAddress{"b", 9190}));
  EXPECT_EQ(a->all()[2], (BrokerAddress{"::1", 7}));
  EXPECT_EQ(a->all()[2].ToString(), "[::1]:7");
  EXPECT_EQ(a->current().ToString(), "a:9090");
}

TEST(BrokerAddresses, OneHostIsTheSingleBrokerCase) {
  Result<BrokerAddresses> a = BrokerAddresses::Parse("127.0.0.1", 9090);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 1u);
  a->NoAnswer();
  EXPECT_EQ(a->current().ToString(), "127.0.0.1:9090");
  Result<BrokerAddresses> v6 = BrokerAddresses::Parse("::1", 9090);  // an IPv6 literal without brackets
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->current(), (BrokerAddress{"::1", 9090}));
}

TEST(BrokerAddresses, RefusesBadEntriesNamingThem) {
  for (const char* bad : {"", " , ", "a:x", "a:0", "a:70000", "[::1", ":9090"}) {
    Result<BrokerAddresses> a = BrokerAddresses::Parse(bad, 9090);
    EXPECT_FALSE(a.ok()) << bad;
  }
  EXPECT_NE(BrokerAddresses::Parse("a,b:x", 1).message().find("'b:x'"), std::string::npos);
}

TEST(BrokerAddresses, SilenceMovesToTheNextAddressAndWraps) {
  Result<BrokerAddresses> a = BrokerAddresses::Parse("a:1,b:2,c:3", 9090);
  ASSERT_TRUE(a.ok());
  a->NoAnswer();
  EXPECT_EQ(a->current().ToString(), "b:2");
  a->NoAnswer();
  a->NoAnswer();
  EXPECT_EQ(a->current().ToString(), "a:1");
}

TEST(BrokerAddresses, NotLeaderGoesToTheNamedLeader) {
  Result<BrokerAddresses> a = BrokerAddresses::Parse("a:1,b:2,c:3", 9090);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->NotLeader("c:3"));
  EXPECT_EQ(a->current().ToString(), "c:3");
  EXPECT_TRUE(a->NotLeader("d:4"));  // a leader not listed is added
  EXPECT_EQ(a->current().ToString(), "d:4");
  EXPECT_EQ(a->size(), 4u);
}

TEST(BrokerAddresses, NotLeaderWithoutALeaderOrNamingItselfMovesOn) {
  Result<BrokerAddresses> a = BrokerAddresses::Parse("a:1,b:2", 9090);
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->NotLeader(""));
  EXPECT_EQ(a->current().ToString(), "b:2");
  EXPECT_TRUE(a->NotLeader("b:2"));
  EXPECT_EQ(a->current().ToString(), "a:1");
  EXPECT_TRUE(a->NotLeader("not an address:x"));
  EXPECT_EQ(a->current().ToString(), "b:2");
  Result<BrokerAddresses> one = BrokerAddresses::Parse("a:1", 9090);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->NotLeader(""));  // nowhere else to go
}

}  // namespace
}  // namespace titan
