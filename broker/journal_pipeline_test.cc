// Pipelined commits of a PostgreSQL journal on a real server (base/pg_db.h, "Pipelined commits"): Commit
// only sends the turn's transaction; outcomes come back in ticket order; a failed transaction fails every
// one sent after it, so what is durable is always a prefix of what was sent; reads wait for what was sent
// before them; a Commit while the slots are busy joins the next transaction (group commit).
#include <gtest/gtest.h>

#include "base/pg_db.h"
#include "base/pg_test_server.h"
#include "base/test_dir.h"
#include "broker/journal.h"

namespace titan::broker {
namespace {

class JournalPipelineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    testing::PostgresServer* server = testing::PostgresServer::Shared(&why);
    if (server == nullptr && testing::PostgresServer::BinDir().empty()) GTEST_SKIP() << why;
    ASSERT_NE(server, nullptr) << why;
    uri_ = server->NewDatabase();
    ASSERT_FALSE(uri_.empty());
    ASSERT_TRUE(journal_.OpenPostgres(uri_, dir_.path()).ok());
    ASSERT_TRUE(other_.OpenPostgres(uri_, dir_.path()).ok());
    db_ = journal_.postgres_connection();
    ASSERT_NE(db_, nullptr);
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

  // One turn inserting `id` at `seq`, committed: its ticket (the commit is only sent when pipelined).
  std::optional<uint64_t> Turn(const std::string& id, int64_t seq) {
    EXPECT_TRUE(journal_.BeginIfNeeded().ok());
    EXPECT_TRUE(journal_.InsertJob(AJob(id, seq)).ok());
    const Status s = journal_.Commit();
    EXPECT_TRUE(s.ok()) << s.message();
    return db_->TakeTicket();
  }

  // Waits for `n` outcomes, rendered "ticket:ok" / "ticket:failed".
  std::string Outcomes(size_t n) {
    std::vector<pg::Db::Outcome> got;
    for (int tries = 0; got.size() < n && tries < 1000; ++tries) {
      db_->Pump(&got);
      if (got.size() < n) db_->AwaitOne();
    }
    std::string s;
    for (const pg::Db::Outcome& o : got) {
      s += (s.empty() ? "" : " ") + std::to_string(o.ticket) + (o.status.ok() ? ":ok" : ":failed");
    }
    return s;
  }

  bool Has(Journal& j, const std::string& id) {
    Result<std::optional<Job>> found = j.FindJob(id);
    EXPECT_TRUE(found.ok()) << found.message();
    return found.ok() && found.value().has_value();
  }

  testing::TempDir dir_;
  std::string uri_;
  Journal journal_, other_;
  pg::Db* db_ = nullptr;
};

TEST_F(JournalPipelineTest, CommitsAreSentWithoutWaitingAndConfirmedInTicketOrder) {
  db_->SetPipelining(4);
  EXPECT_EQ(1u, Turn("a", 1));
  EXPECT_EQ(2u, Turn("b", 2));
  EXPECT_EQ(3u, Turn("c", 3));
  EXPECT_TRUE(db_->awaiting());
  EXPECT_EQ("1:ok 2:ok 3:ok", Outcomes(3));
  EXPECT_FALSE(db_->awaiting());
  EXPECT_TRUE(Has(other_, "a") && Has(other_, "b") && Has(other_, "c"));
}

TEST_F(JournalPipelineTest, ATurnThatWritesNothingHasNoTicket) {
  db_->SetPipelining(1);
  ASSERT_TRUE(journal_.BeginIfNeeded().ok());
  ASSERT_TRUE(journal_.Commit().ok());
  EXPECT_EQ(std::nullopt, db_->TakeTicket());
  EXPECT_FALSE(db_->awaiting());
}

TEST_F(JournalPipelineTest, AFailedTransactionFailsEveryOneSentAfterItSoOnlyAPrefixIsDurable) {
  ASSERT_TRUE(journal_.BeginIfNeeded().ok());  // seq 1 taken, committed the ordinary way
  ASSERT_TRUE(journal_.InsertJob(AJob("first", 1)).ok());
  ASSERT_TRUE(journal_.Commit().ok());
  db_->SetPipelining(4);
  EXPECT_EQ(1u, Turn("ok", 2));
  EXPECT_EQ(2u, Turn("duplicate", 1));  // fails on the server: seq 1 exists
  EXPECT_EQ(3u, Turn("after", 3));      // valid, but sent after a failure: never committed
  EXPECT_EQ("1:ok 2:failed 3:failed", Outcomes(3));
  EXPECT_TRUE(Has(other_, "ok"));
  EXPECT_FALSE(Has(other_, "after"));
  // And nothing commits after the hole, ever: a later Commit fails at once.
  ASSERT_TRUE(journal_.BeginIfNeeded().ok());
  ASSERT_TRUE(journal_.InsertJob(AJob("later", 4)).ok());
  EXPECT_FALSE(journal_.Commit().ok());
  EXPECT_FALSE(Has(other_, "later"));
}

TEST_F(JournalPipelineTest, AReadWaitsForTheCommitsSentBeforeIt) {
  db_->SetPipelining(4);
  EXPECT_EQ(1u, Turn("a", 1));
  ASSERT_TRUE(journal_.BeginIfNeeded().ok());
  EXPECT_TRUE(Has(journal_, "a"));  // the next turn reads it back
  ASSERT_TRUE(journal_.InsertJob(AJob("b", 2)).ok());
  ASSERT_TRUE(journal_.Commit().ok());
  EXPECT_EQ(2u, db_->TakeTicket());
  EXPECT_EQ("1:ok 2:ok", Outcomes(2));
  EXPECT_TRUE(Has(other_, "b"));
}

TEST_F(JournalPipelineTest, CommitsWhileTheSlotsAreBusyJoinOneTransaction) {
  Journal::Lease lease;
  ASSERT_TRUE(journal_.AcquireLease("a:1", 60'000, &lease).ok());
  ASSERT_TRUE(lease.acquired);
  db_->SetPipelining(1);
  EXPECT_EQ(1u, Turn("a", 1));  // sent
  EXPECT_EQ(2u, Turn("b", 2));  // waits for the slot...
  EXPECT_EQ(3u, Turn("c", 3));  // ... with this one: one transaction for both
  EXPECT_EQ("1:ok 2:ok 3:ok", Outcomes(3));
  std::unique_ptr<sql::Statement> turns;
  ASSERT_TRUE(db_->Prepare("SELECT turns FROM lease_turns WHERE epoch = ?1", &turns).ok());
  turns->Bind(1, lease.epoch);
  ASSERT_TRUE(turns->Step());
  EXPECT_EQ(2, turns->ColumnInt(0));  // transactions under the fence: two, for three turns
}

TEST_F(JournalPipelineTest, ATurnRolledBackWhileEarlierCommitsWaitDropsOnlyItsOwnWrites) {
  db_->SetPipelining(1);
  EXPECT_EQ(1u, Turn("a", 1));  // sent
  EXPECT_EQ(2u, Turn("b", 2));  // waits for the slot
  ASSERT_TRUE(journal_.BeginIfNeeded().ok());
  ASSERT_TRUE(journal_.InsertJob(AJob("c", 3)).ok());
  journal_.Rollback();  // (the core's turn failed: a full disk for its logs)
  EXPECT_EQ("1:ok 2:ok", Outcomes(2));
  EXPECT_TRUE(Has(other_, "a") && Has(other_, "b"));
  EXPECT_FALSE(Has(other_, "c"));
}

TEST_F(JournalPipelineTest, ARenewalAfterALargeTransactionWaitsForItAndSucceeds) {
  Journal::Lease lease;
  ASSERT_TRUE(journal_.AcquireLease("a:1", 60'000, &lease).ok());
  ASSERT_TRUE(lease.acquired);
  db_->SetPipelining(1);
  ASSERT_TRUE(journal_.BeginIfNeeded().ok());
  for (int i = 1; i <= 50'000; ++i) ASSERT_TRUE(journal_.InsertJob(AJob("j" + std::to_string(i), i)).ok());
  ASSERT_TRUE(journal_.Commit().ok());
  EXPECT_EQ(1u, db_->TakeTicket());
  EXPECT_EQ(2u, Turn("after", 50'001));  // waits for the slot
  bool held = false;
  const Status renewed = journal_.RenewLease(lease.epoch, 60'000, &held);
  EXPECT_TRUE(renewed.ok()) << renewed.message();
  EXPECT_TRUE(held);
  EXPECT_EQ("1:ok 2:ok", Outcomes(2));
  EXPECT_TRUE(Has(other_, "j50000") && Has(other_, "after"));
}

TEST_F(JournalPipelineTest, AfterATakeoverNoPipelinedTurnOfTheOldHolderCommits) {
  Journal::Lease a, b;
  ASSERT_TRUE(journal_.AcquireLease("a:1", 300, &a).ok());
  ASSERT_TRUE(a.acquired);
  for (int i = 0; i < 10000 && !b.acquired; ++i) ASSERT_TRUE(other_.AcquireLease("b:2", 60'000, &b).ok());
  ASSERT_TRUE(b.acquired);
  db_->SetPipelining(2);
  EXPECT_EQ(1u, Turn("stale1", 1));
  EXPECT_EQ(2u, Turn("stale2", 2));
  EXPECT_EQ("1:failed 2:failed", Outcomes(2));
  EXPECT_FALSE(Has(other_, "stale1"));
  EXPECT_FALSE(Has(other_, "stale2"));
}

}  // namespace
}  // namespace titan::broker
