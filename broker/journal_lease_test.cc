// The lease of a PostgreSQL journal on a real server (base/pg_test_server.h): one broker takes it, a
// second takes it over only once it expired, and from then on the first one's transactions fail at
// their first statement (the epoch check), so nothing of the old epoch commits after the takeover.
#include <gtest/gtest.h>

#include <chrono>

#include "base/pg_test_server.h"
#include "base/test_dir.h"
#include "broker/journal.h"

namespace titan::broker {
namespace {

class JournalLeaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    testing::PostgresServer* server = testing::PostgresServer::Shared(&why);
    if (server == nullptr && testing::PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
    ASSERT_NE(server, nullptr) << why;
    uri_ = server->NewDatabase();
    ASSERT_FALSE(uri_.empty());
    ASSERT_TRUE(first_.OpenPostgres(uri_, dir_.path()).ok());
    ASSERT_TRUE(second_.OpenPostgres(uri_, dir_.path()).ok());
  }

  // Tries to take the lease for `who` until it is taken (each try a real statement; the deadline only
  // bounds a broken test).
  Journal::Lease TakeOver(Journal& j, const std::string& who) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    Journal::Lease got;
    while (std::chrono::steady_clock::now() < deadline) {
      EXPECT_TRUE(j.AcquireLease(who, 60'000, &got).ok());
      if (got.acquired) break;
    }
    return got;
  }

  static Job AJob(const std::string& id, int64_t seq) {
    Job j;
    j.id = id;
    j.seq = seq;
    j.spec.id = id;
    j.spec.file = "f";
    j.file_hash = "h";
    j.state = JobState::kQueued;
    return j;
  }

  testing::TempDir dir_;
  std::string uri_;
  Journal first_, second_;
};

TEST_F(JournalLeaseTest, ASecondBrokerWaitsWhileTheLeaseIsHeld) {
  Journal::Lease a, b;
  ASSERT_TRUE(first_.AcquireLease("a:1", 60'000, &a).ok());
  ASSERT_TRUE(a.acquired);
  EXPECT_EQ(1, a.epoch);
  ASSERT_TRUE(second_.AcquireLease("b:2", 60'000, &b).ok());
  EXPECT_FALSE(b.acquired);
  EXPECT_EQ(1, b.epoch);
  EXPECT_EQ("a:1", b.holder);
  EXPECT_GT(b.expires_in_ms, 50'000);
  bool held = false;
  ASSERT_TRUE(first_.RenewLease(a.epoch, 60'000, &held).ok());
  EXPECT_TRUE(held);
  // The holder's turns commit, each recorded under its epoch.
  ASSERT_TRUE(first_.BeginIfNeeded().ok());
  ASSERT_TRUE(first_.InsertJob(AJob("j1", 1)).ok());
  const Status committed = first_.Commit();
  EXPECT_TRUE(committed.ok()) << committed.message();
}

TEST_F(JournalLeaseTest, AfterATakeoverTheOldHoldersCommitFailsAndItsRenewalIsRefused) {
  Journal::Lease a, b;
  ASSERT_TRUE(first_.AcquireLease("a:1", 300, &a).ok());  // a short lease, left to expire
  ASSERT_TRUE(a.acquired);
  b = TakeOver(second_, "b:2");
  ASSERT_TRUE(b.acquired);
  EXPECT_EQ(a.epoch + 1, b.epoch);
  // The old holder wakes up and tries to commit a turn: its first statement (the epoch check) fails.
  ASSERT_TRUE(first_.BeginIfNeeded().ok());
  ASSERT_TRUE(first_.InsertJob(AJob("stale", 1)).ok());
  const Status stale = first_.Commit();
  ASSERT_FALSE(stale.ok());
  EXPECT_NE(std::string::npos, stale.message().find("another broker took over")) << stale.message();
  bool held = true;
  ASSERT_TRUE(first_.RenewLease(a.epoch, 300, &held).ok());
  EXPECT_FALSE(held);
  // The new holder commits; the old one's row is not there.
  ASSERT_TRUE(second_.BeginIfNeeded().ok());
  ASSERT_TRUE(second_.InsertJob(AJob("fresh", 1)).ok());
  ASSERT_TRUE(second_.Commit().ok());
  Result<std::optional<Job>> gone = second_.FindJob("stale");
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone.value().has_value());
  Result<std::optional<Job>> fresh = second_.FindJob("fresh");
  ASSERT_TRUE(fresh.ok() && fresh.value().has_value());
}

TEST_F(JournalLeaseTest, AStandbySeesTheLeadersAdvertisedAddress) {
  Journal::Lease a, b;
  ASSERT_TRUE(first_.AcquireLease("a:1", 60'000, &a, "leader.example:9090").ok());
  ASSERT_TRUE(a.acquired);
  EXPECT_EQ("leader.example:9090", a.address);
  ASSERT_TRUE(second_.AcquireLease("b:2", 60'000, &b, "standby.example:9190").ok());
  EXPECT_FALSE(b.acquired);
  EXPECT_EQ("leader.example:9090", b.address);  // what NOT_LEADER names
}

TEST_F(JournalLeaseTest, ALeaseIsOnlyKeptOnPostgresql) {
  Journal sqlite;
  ASSERT_TRUE(sqlite.Open(dir_.File("broker.db")).ok());
  Journal::Lease got;
  EXPECT_FALSE(sqlite.AcquireLease("a:1", 1000, &got).ok());
}

}  // namespace
}  // namespace titan::broker
