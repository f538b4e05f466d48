// KvEngine semantics on a real SQLite file, including reopening (what a restart sees).
#include "store/kv_engine.h"

#include <gtest/gtest.h>

#include "base/test_dir.h"

namespace titan::store {
namespace {

class KvEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(engine_.Open(dir_.File("s.db"), true).ok()); }
  std::optional<StoredValue> Get(std::string_view key) {
    std::optional<StoredValue> v;
    EXPECT_TRUE(engine_.Get(key, &v).ok());
    return v;
  }
  testing::TempDir dir_;
  KvEngine engine_;
};

TEST_F(KvEngineTest, PutGetKeepsBytesAndKind) {
  const std::string bin("\0\xff\x01", 3);
  ASSERT_TRUE(engine_.Put("k", {bin, false}).ok());
  EXPECT_EQ((StoredValue{bin, false}), Get("k"));
  ASSERT_TRUE(engine_.Put("k", {"text", true}).ok());
  EXPECT_EQ((StoredValue{"text", true}), Get("k"));
  EXPECT_FALSE(Get("missing").has_value());
}

TEST_F(KvEngineTest, EmptyValueIsNotMissing) {
  ASSERT_TRUE(engine_.Put("e", {"", true}).ok());
  ASSERT_TRUE(Get("e").has_value());
  EXPECT_EQ("", Get("e")->bytes);
}

TEST_F(KvEngineTest, SetsKeepInsertionOrderAndCount) {
  int n = -1;
  for (const char* m : {"c", "a", "b"}) {
    ASSERT_TRUE(engine_.SetAdd("s", {m, true}, &n).ok());
    EXPECT_EQ(1, n);
  }
  ASSERT_TRUE(engine_.SetAdd("s", {"a", true}, &n).ok());
  EXPECT_EQ(0, n);
  std::vector<StoredValue> members;
  bool truncated = true;
  ASSERT_TRUE(engine_.SetMembers("s", 10, &members, &truncated).ok());
  ASSERT_EQ(3u, members.size());
  EXPECT_EQ("c", members[0].bytes);
  EXPECT_EQ("b", members[2].bytes);
  EXPECT_FALSE(truncated);
  ASSERT_TRUE(engine_.SetMembers("s", 2, &members, &truncated).ok());
  EXPECT_EQ(2u, members.size());
  EXPECT_TRUE(truncated);
  ASSERT_TRUE(engine_.SetRemove("s", "c", &n).ok());
  EXPECT_EQ(1, n);
  ASSERT_TRUE(engine_.SetRemove("s", "c", &n).ok());
  EXPECT_EQ(0, n);
}

TEST_F(KvEngineTest, ValuesAndSetsShareOneKeySpace) {
  int n = 0;
  ASSERT_TRUE(engine_.Put("v", {"1", true}).ok());
  ASSERT_TRUE(engine_.SetAdd("s", {"m", true}, &n).ok());
  EXPECT_EQ(Status::Code::kWrongType, engine_.SetAdd("v", {"m", true}, &n).code());
  EXPECT_EQ(Status::Code::kWrongType, engine_.Put("s", {"x", true}).code());
  std::optional<StoredValue> v;
  EXPECT_EQ(Status::Code::kWrongType, engine_.Get("s", &v).code());
  ASSERT_TRUE(engine_.Delete("s", &n).ok());
  EXPECT_EQ(1, n);
  ASSERT_TRUE(engine_.Delete("s", &n).ok());
  EXPECT_EQ(0, n);
  ASSERT_TRUE(engine_.Put("s", {"now a value", true}).ok());
}

TEST_F(KvEngineTest, IncrementCountsFromZeroAndRejectsNonIntegers) {
  int64_t r = 0;
  ASSERT_TRUE(engine_.Increment("n", 5, &r).ok());
  EXPECT_EQ(5, r);
  ASSERT_TRUE(engine_.Increment("n", -7, &r).ok());
  EXPECT_EQ(-2, r);
  EXPECT_EQ((StoredValue{"-2", true}), Get("n"));
  ASSERT_TRUE(engine_.Put("t", {"12x", true}).ok());
  EXPECT_EQ("key \"t\" does not hold a decimal integer, so it cannot be incremented",
            engine_.Increment("t", 1, &r).message());
  ASSERT_TRUE(engine_.Put("big", {"9223372036854775807", true}).ok());
  EXPECT_EQ(Status::Code::kInvalid, engine_.Increment("big", 1, &r).code());
}

TEST_F(KvEngineTest, CompareAndSet) {
  bool swapped = false;
  std::optional<StoredValue> cur;
  ASSERT_TRUE(engine_.CompareAndSet("lock", std::nullopt, {"me", true}, &swapped, &cur).ok());
  EXPECT_TRUE(swapped);
  ASSERT_TRUE(engine_.CompareAndSet("lock", std::nullopt, {"you", true}, &swapped, &cur).ok());
  EXPECT_FALSE(swapped);
  EXPECT_EQ("me", cur->bytes);
  ASSERT_TRUE(engine_.CompareAndSet("lock", std::string("me"), {"you", true}, &swapped, &cur).ok());
  EXPECT_TRUE(swapped);
  EXPECT_EQ((StoredValue{"you", true}), Get("lock"));
}

TEST_F(KvEngineTest, KeysByPrefixInByteOrder) {
  int n = 0;
  ASSERT_TRUE(engine_.Put("run:2", {"", true}).ok());
  ASSERT_TRUE(engine_.Put("run:1", {"", true}).ok());
  ASSERT_TRUE(engine_.SetAdd("run:1:files", {"f", true}, &n).ok());
  ASSERT_TRUE(engine_.Put("other", {"", true}).ok());
  ASSERT_TRUE(engine_.Put(std::string("\xff\xff", 2), {"", true}).ok());
  std::vector<std::string> keys;
  bool truncated = false;
  ASSERT_TRUE(engine_.Keys("run:", 10, &keys, &truncated).ok());
  EXPECT_EQ((std::vector<std::string>{"run:1", "run:1:files", "run:2"}), keys);
  ASSERT_TRUE(engine_.Keys("", 2, &keys, &truncated).ok());
  EXPECT_EQ(2u, keys.size());
  EXPECT_TRUE(truncated);
  ASSERT_TRUE(engine_.Keys(std::string("\xff", 1), 10, &keys, &truncated).ok());
  EXPECT_EQ(1u, keys.size());
}

TEST_F(KvEngineTest, CommittedDataSurvivesReopenAndRolledBackDoesNot) {
  ASSERT_TRUE(engine_.Begin().ok());
  ASSERT_TRUE(engine_.Put("kept", {"1", true}).ok());
  ASSERT_TRUE(engine_.Commit().ok());
  ASSERT_TRUE(engine_.Begin().ok());
  ASSERT_TRUE(engine_.Put("dropped", {"1", true}).ok());
  engine_.Rollback();
  int n = 0;
  ASSERT_TRUE(engine_.SetAdd("s", {"first", true}, &n).ok());
  KvEngine reopened;
  ASSERT_TRUE(reopened.Open(dir_.File("s.db"), true).ok());
  std::optional<StoredValue> v;
  ASSERT_TRUE(reopened.Get("kept", &v).ok());
  EXPECT_TRUE(v.has_value());
  ASSERT_TRUE(reopened.Get("dropped", &v).ok());
  EXPECT_FALSE(v.has_value());
  // Insertion order continues after a reopen.
  ASSERT_TRUE(reopened.SetAdd("s", {"second", true}, &n).ok());
  std::vector<StoredValue> members;
  bool truncated = false;
  ASSERT_TRUE(reopened.SetMembers("s", 10, &members, &truncated).ok());
  ASSERT_EQ(2u, members.size());
  EXPECT_EQ("second", members[1].bytes);
}

}  // namespace
}  // namespace titan::store
