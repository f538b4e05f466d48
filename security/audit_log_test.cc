// AuditLog: rows read back newest-bounded and oldest first, filtered by time and principal, pruned by
// age without reusing a seq; and which requests a row is for.
#include "security/audit_log.h"

#include <gtest/gtest.h>

#include <memory>

#include "base/sqlite_db.h"
#include "base/test_dir.h"

namespace titan::security {
namespace {

wire::AuditEntry Row(int64_t ts_ms, std::string principal, std::string action, std::string target,
                     std::string outcome = "ok") {
  return wire::AuditEntry{.ts_ms = ts_ms,
                          .principal = std::move(principal),
                          .action = std::move(action),
                          .target = std::move(target),
                          .outcome = std::move(outcome)};
}

// "seq:principal:action:target:outcome ..." of an AUDIT_LIST answer, "+" at the end when truncated.
std::string Render(const wire::Message& reply) {
  const Result<wire::AuditListReplyMsg> list = wire::AuditListReplyMsg::From(reply);
  if (!list.ok()) return "error: " + list.message();
  std::string out;
  for (const wire::AuditEntry& e : list->entries) {
    out += (out.empty() ? "" : " ") + std::to_string(e.seq) + ":" + e.principal + ":" + e.action + ":" +
           e.target + ":" + e.outcome;
  }
  return out + (list->truncated ? " +" : "");
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  // Opens the database and the log on it (again: as a restarted node does).
  void Open() {
    log_.reset();  // its statements before the connection they belong to
    db_ = std::make_unique<sqlite::Db>();
    log_ = std::make_unique<AuditLog>();
    ASSERT_TRUE(db_->Open(dir_.File("node.db"), /*durable=*/true).ok());
    ASSERT_TRUE(log_->Open(db_.get()).ok());
  }
  std::string List(wire::AuditListMsg req = {}) { return Render(log_->List(req)); }

  titan::testing::TempDir dir_;
  std::unique_ptr<sqlite::Db> db_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, RowsComeBackOldestFirstFilteredAndBoundedToTheNewest) {
  ASSERT_TRUE(log_->Append(Row(100, "alice", "JOB_SUBMIT", "a")).ok());
  ASSERT_TRUE(log_->Append(Row(200, "bob", "JOB_STOP", "a")).ok());
  ASSERT_TRUE(log_->Append(Row(300, "eve", "JOB_STOP", "b", "FORBIDDEN")).ok());
  EXPECT_EQ("1:alice:JOB_SUBMIT:a:ok 2:bob:JOB_STOP:a:ok 3:eve:JOB_STOP:b:FORBIDDEN", List());
  EXPECT_EQ("2:bob:JOB_STOP:a:ok 3:eve:JOB_STOP:b:FORBIDDEN +", List({.limit = 2}));
  EXPECT_EQ("2:bob:JOB_STOP:a:ok 3:eve:JOB_STOP:b:FORBIDDEN", List({.since_ms = 200}));
  EXPECT_EQ("2:bob:JOB_STOP:a:ok", List({.principal = "bob"}));
  EXPECT_EQ("", List({.since_ms = 201, .principal = "bob"}));
  EXPECT_EQ(wire::MsgType::kError, log_->List({.limit = 0}).type);
}

TEST_F(AuditLogTest, PruningDropsOldRowsAndNeverReusesASeq) {
  ASSERT_TRUE(log_->Append(Row(100, "alice", "JOB_SUBMIT", "a")).ok());
  ASSERT_TRUE(log_->Append(Row(200, "alice", "JOB_SUBMIT", "b")).ok());
  EXPECT_EQ(1, log_->Prune(150).value());
  EXPECT_EQ("2:alice:JOB_SUBMIT:b:ok", List());
  EXPECT_EQ(1, log_->Prune(1000).value());
  ASSERT_TRUE(log_->Append(Row(300, "alice", "JOB_SUBMIT", "c")).ok());
  EXPECT_EQ("3:alice:JOB_SUBMIT:c:ok", List());
}

TEST_F(AuditLogTest, CommittedRowsSurviveReopeningAndUncommittedOnesDoNot) {
  ASSERT_TRUE(db_->Exec("BEGIN").ok());
  ASSERT_TRUE(log_->Append(Row(100, "alice", "JOB_SUBMIT", "a")).ok());
  ASSERT_TRUE(db_->Exec("COMMIT").ok());
  ASSERT_TRUE(db_->Exec("BEGIN").ok());
  ASSERT_TRUE(log_->Append(Row(200, "alice", "JOB_SUBMIT", "b")).ok());
  db_->Rollback();
  Open();
  EXPECT_EQ("1:alice:JOB_SUBMIT:a:ok", List());
}

TEST(Audit, WritesAndForbiddenAttemptsAreAuditedReadsAreNot) {
  const wire::Message stop = wire::JobStopMsg{.id = "a"}.ToMessage();
  const wire::Message get = wire::JobGetMsg{.id = "a"}.ToMessage();
  const wire::Message ok = wire::OkMsg{}.ToMessage();
  const wire::Message forbidden = wire::MakeError(Status::Forbidden("principal 'eve' (role reader) ..."));
  EXPECT_TRUE(IsAudited(stop, ok));
  EXPECT_TRUE(IsAudited(stop, wire::MakeError(Status::Invalid("no job 'a'"))));
  EXPECT_FALSE(IsAudited(get, ok));
  EXPECT_TRUE(IsAudited(get, forbidden));
  EXPECT_EQ("ok", AuditOutcome(ok));
  EXPECT_EQ("FORBIDDEN", AuditOutcome(forbidden));
  EXPECT_EQ("(plaintext)", AuditPrincipal(""));
  EXPECT_EQ("alice", AuditPrincipal("alice"));
}

}  // namespace
}  // namespace titan::security
