// A full disk as SQLite reports it: a write past the database's size limit (max_page_count, which fails
// as a full disk does: SQLITE_FULL) is an error IsOutOfSpace recognises, and ProbeWrite fails while the
// limit holds and succeeds once it is raised. ErrnoStatus keeps the errno through Within.
#include <gtest/gtest.h>

#include <cerrno>

#include "base/sqlite_db.h"
#include "base/test_dir.h"

namespace titan {
namespace {

// A database holding one table, limited to the pages it has now: any growth is SQLITE_FULL.
class FullDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.Open(dir_.File("full.db"), /*durable=*/true).ok());
    ASSERT_TRUE(db_.Exec("CREATE TABLE t(v BLOB)").ok());
    Cap(true);
  }
  void Cap(bool full) {
    ASSERT_TRUE(db_.Exec(full ? "PRAGMA max_page_count = 2" : "PRAGMA max_page_count = 1000000").ok());
  }
  testing::TempDir dir_;
  sqlite::Db db_;
};

TEST_F(FullDbTest, AWriteThatFindsTheDiskFullIsOutOfSpace) {
  const Status s = db_.Exec("INSERT INTO t VALUES(zeroblob(65536))");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(IsOutOfSpace(s)) << s.message();
  EXPECT_EQ(ENOSPC, s.os_error());
  EXPECT_NE(std::string::npos, s.message().find("database or disk is full")) << s.message();
}

TEST_F(FullDbTest, AProbeFailsWhileFullAndSucceedsOnceThereIsSpace) {
  const Status full = db_.ProbeWrite(16384);
  EXPECT_TRUE(IsOutOfSpace(full)) << full.message();
  EXPECT_EQ("cannot write '" + dir_.File("full.db") + "': database or disk is full", full.message());
  EXPECT_NE(0, sqlite3_get_autocommit(db_.raw())) << "the failed probe left a transaction open";
  Cap(false);
  EXPECT_TRUE(db_.ProbeWrite(16384).ok());
  EXPECT_TRUE(db_.ProbeWrite(16384).ok()) << "probes replace their one row";
}

TEST(OutOfSpaceTest, OnlyAFullDiskOrQuotaCounts) {
  EXPECT_TRUE(IsOutOfSpace(ErrnoStatus("cannot write 'x'", ENOSPC)));
  EXPECT_TRUE(IsOutOfSpace(ErrnoStatus("cannot write 'x'", EDQUOT)));
  EXPECT_FALSE(IsOutOfSpace(ErrnoStatus("cannot write 'x'", EIO)));
  EXPECT_FALSE(IsOutOfSpace(Status::Error("storage failure")));
  EXPECT_FALSE(IsOutOfSpace(Status::Ok()));
  const Status within = ErrnoStatus("cannot write 'x'", ENOSPC).Within("cannot seal job 'a'");
  EXPECT_EQ("cannot seal job 'a': cannot write 'x': No space left on device", within.message());
  EXPECT_TRUE(IsOutOfSpace(within));
}

}  // namespace
}  // namespace titan
