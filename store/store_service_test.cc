// StoreService: request -> reply, asserted as rendered messages; limits at and one past the edge.
#include "store/store_service.h"

#include <gtest/gtest.h>

#include "base/test_dir.h"

namespace titan::store {
namespace {

using wire::Bytes;
using wire::Datum;
using wire::MsgType;
using wire::Text;

class StoreServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(engine_.Open(dir_.File("s.db"), true).ok()); }

  // "TYPE {fields}" of the reply to a request built from name/value pairs.
  std::string Call(MsgType type, wire::Map fields) {
    wire::Message req = wire::MakeMessage(type);
    req.body = std::move(fields);
    bool failed = false;
    wire::Message reply = service_.Handle(req, &failed);
    EXPECT_FALSE(failed);
    std::string out(wire::NameOf(reply.type));
    if (reply.type == MsgType::kError) return out + " " + std::string(reply.Bytes("code"));
    return out + " " + wire::Render(Datum(reply.body));
  }
  static Datum T(std::string s) { return Datum(Text{std::move(s)}); }

  testing::TempDir dir_;
  KvEngine engine_;
  StoreService service_{&engine_};
};

TEST_F(StoreServiceTest, AnAuditRowNamesTheKeyOfAWriteAndNeverItsValue) {
  const wire::Message put =
      wire::StorePutMsg{.key = {"db/password", true}, .value = {"hunter2", true}}.ToMessage();
  const wire::Message sadd = wire::StoreSaddMsg{.key = {"s", true}, .member = {"hunter2", true}}.ToMessage();
  const wire::Message get = wire::StoreGetMsg{.key = {"db/password", true}}.ToMessage();
  const wire::Message ok = wire::StoreOkMsg{}.ToMessage();
  const wire::Message forbidden = wire::MakeError(Status::Forbidden("principal 'eve' (role reader) ..."));
  auto row = [](const std::optional<wire::AuditEntry>& r) {
    return r ? r->principal + " " + r->action + " " + r->target + " " + r->outcome : "-";
  };
  EXPECT_EQ("alice STORE_PUT \"db/password\" ok", row(StoreService::AuditOf("alice", put, ok, 1)));
  EXPECT_EQ("(plaintext) STORE_SADD \"s\" ok",
            row(StoreService::AuditOf("", sadd, wire::StoreCountMsg{.count = 1}.ToMessage(), 1)));
  EXPECT_EQ("eve STORE_PUT \"db/password\" FORBIDDEN", row(StoreService::AuditOf("eve", put, forbidden, 1)));
  EXPECT_EQ("eve STORE_GET \"db/password\" FORBIDDEN", row(StoreService::AuditOf("eve", get, forbidden, 1)));
  EXPECT_EQ("-", row(StoreService::AuditOf("alice", get, ok, 1)));
}

TEST_F(StoreServiceTest, AuditListAnswersFromTheAuditTable) {
  ASSERT_TRUE(
      engine_.audit()
          .Append(wire::AuditEntry{
              .ts_ms = 7, .principal = "alice", .action = "STORE_PUT", .target = "k", .outcome = "ok"})
          .ok());
  EXPECT_EQ(
      "AUDIT_LIST_REPLY {entries: [{seq: 1, ts_ms: 7, principal: \"alice\", action: \"STORE_PUT\", target: "
      "\"k\", outcome: \"ok\"}], truncated: false}",
      Call(MsgType::kAuditList, {}));
  EXPECT_EQ("ERROR INVALID", Call(MsgType::kAuditList, {{"limit", Datum(int64_t{0})}}));
}

TEST_F(StoreServiceTest, AuditListOfAStoreThatDoesNotRecordWritesSaysSo) {
  StoreService quiet(&engine_, nullptr, /*audit_writes=*/false);
  bool failed = false;
  const wire::Message reply = quiet.Handle(wire::AuditListMsg{}.ToMessage(), &failed);
  EXPECT_EQ("{entries: [], truncated: false, recording: false}", wire::Render(Datum(reply.body)));
  EXPECT_EQ("AUDIT_LIST_REPLY {entries: [], truncated: false}", Call(MsgType::kAuditList, {}));  // it records
  // A refused request is refused as it is: the mark belongs to the list only.
  wire::Message bad = wire::MakeMessage(MsgType::kAuditList);
  bad.body = wire::Map{{"limit", Datum(int64_t{0})}};
  const wire::Message refused = quiet.Handle(bad, &failed);
  ASSERT_EQ(MsgType::kError, refused.type);
  EXPECT_EQ("INVALID", std::string(refused.Bytes("code")));
}

TEST_F(StoreServiceTest, HelloSaysStore) {
  EXPECT_EQ("WELCOME {node: \"store\", version: \"" TITAN_VERSION "\"}", Call(MsgType::kHello, {}));
}

TEST_F(StoreServiceTest, EveryOperation) {
  EXPECT_EQ("STORE_VALUE {found: false}", Call(MsgType::kStoreGet, {{"key", T("k")}}));
  EXPECT_EQ("STORE_OK {}", Call(MsgType::kStorePut, {{"key", T("k")}, {"value", T("98.5")}}));
  EXPECT_EQ("STORE_VALUE {found: true, value: \"98.5\"}", Call(MsgType::kStoreGet, {{"key", T("k")}}));
  EXPECT_EQ("STORE_COUNT {count: 1}", Call(MsgType::kStoreSadd, {{"key", T("s")}, {"member", T("a")}}));
  EXPECT_EQ("STORE_COUNT {count: 0}", Call(MsgType::kStoreSadd, {{"key", T("s")}, {"member", T("a")}}));
  EXPECT_EQ("STORE_COUNT {count: 1}",
            Call(MsgType::kStoreSadd, {{"key", T("s")}, {"member", Datum(Bytes{std::string("\0", 1)})}}));
  EXPECT_EQ("STORE_LIST {items: [\"a\", b\"\\x00\"], truncated: false}",
            Call(MsgType::kStoreSmembers, {{"key", T("s")}}));
  EXPECT_EQ("STORE_COUNT {count: 1}", Call(MsgType::kStoreSrem, {{"key", T("s")}, {"member", T("a")}}));
  EXPECT_EQ("STORE_INT {value: 3}", Call(MsgType::kStoreIncr, {{"key", T("n")}, {"delta", Datum(3)}}));
  EXPECT_EQ("STORE_CAS_RESULT {swapped: false, current: \"3\"}",
            Call(MsgType::kStoreCas, {{"key", T("n")}, {"expected", T("2")}, {"value", T("9")}}));
  EXPECT_EQ("STORE_CAS_RESULT {swapped: true, current: \"9\"}",
            Call(MsgType::kStoreCas, {{"key", T("n")}, {"expected", T("3")}, {"value", T("9")}}));
  EXPECT_EQ("STORE_LIST {items: [\"k\", \"n\", \"s\"], truncated: false}",
            Call(MsgType::kStoreKeys, {{"prefix", T("")}, {"limit", Datum(10)}}));
  EXPECT_EQ("STORE_COUNT {count: 1}", Call(MsgType::kStoreDelete, {{"key", T("k")}}));
  EXPECT_EQ("STORE_VALUE {found: false}", Call(MsgType::kStoreGet, {{"key", T("k")}}));
}

TEST_F(StoreServiceTest, NonAsciiRoundTripsExactly) {
  const std::string key = "ключ-🔑", value = "值 ✓ — ünïcødé";
  EXPECT_EQ("STORE_OK {}", Call(MsgType::kStorePut, {{"key", T(key)}, {"value", T(value)}}));
  wire::Message req = wire::MakeMessage(MsgType::kStoreGet);
  req.Set("key", Datum(Bytes{key}));  // the same bytes as bin address the same key
  bool failed = false;
  const wire::Message reply = service_.Handle(req, &failed);
  EXPECT_EQ(value, reply.Bytes("value"));
  EXPECT_TRUE(reply.Find("value")->is_text());
}

TEST_F(StoreServiceTest, LimitsAtAndPastTheEdge) {
  const std::string at_value(wire::kMaxValueBytes, 'v'), over_value(wire::kMaxValueBytes + 1, 'v');
  const std::string at_key(wire::kMaxKeyBytes, 'k'), over_key(wire::kMaxKeyBytes + 1, 'k');
  EXPECT_EQ("STORE_OK {}", Call(MsgType::kStorePut, {{"key", T(at_key)}, {"value", Datum(Bytes{at_value})}}));
  EXPECT_EQ("ERROR TOO_LARGE",
            Call(MsgType::kStorePut, {{"key", T("k")}, {"value", Datum(Bytes{over_value})}}));
  EXPECT_EQ("ERROR TOO_LARGE", Call(MsgType::kStorePut, {{"key", T(over_key)}, {"value", T("v")}}));
  EXPECT_EQ("ERROR TOO_LARGE",
            Call(MsgType::kStoreSadd, {{"key", T("s")}, {"member", Datum(Bytes{over_value})}}));
  EXPECT_EQ("ERROR INVALID", Call(MsgType::kStorePut, {{"key", T("")}, {"value", T("v")}}));
  EXPECT_EQ("ERROR INVALID", Call(MsgType::kStoreKeys, {{"prefix", T("")}, {"limit", Datum(0)}}));
}

TEST_F(StoreServiceTest, WrongTypeNamesTheKey) {
  Call(MsgType::kStorePut, {{"key", T("v")}, {"value", T("abc")}});
  wire::Message req = wire::MakeMessage(MsgType::kStoreIncr);
  req.Set("key", T("v")).Set("delta", Datum(1));
  bool failed = false;
  const wire::Message reply = service_.Handle(req, &failed);
  EXPECT_EQ("WRONG_TYPE", reply.Bytes("code"));
  EXPECT_EQ("key \"v\" does not hold a decimal integer, so it cannot be incremented", reply.Bytes("reason"));
  EXPECT_EQ("ERROR WRONG_TYPE", Call(MsgType::kStoreSadd, {{"key", T("v")}, {"member", T("m")}}));
}

TEST_F(StoreServiceTest, RepliesAreNotRequestsItAnswers) {
  EXPECT_EQ("ERROR UNKNOWN_TYPE", Call(MsgType::kStoreOk, {}));
}

// IsWrite is `writes` in schemas/protocol.yaml; the store's requests are classified as its switch did.
TEST_F(StoreServiceTest, WritesAreClassified) {
  std::string writes;
  for (MsgType t : {MsgType::kHello, MsgType::kStorePut, MsgType::kStoreGet, MsgType::kStoreDelete,
                    MsgType::kStoreSadd, MsgType::kStoreSrem, MsgType::kStoreSmembers, MsgType::kStoreIncr,
                    MsgType::kStoreCas, MsgType::kStoreKeys}) {
    if (StoreService::IsWrite(t)) writes += std::string(wire::NameOf(t)) + " ";
  }
  EXPECT_EQ("STORE_PUT STORE_DELETE STORE_SADD STORE_SREM STORE_INCR STORE_CAS ", writes);
}

// Regression: a request that never went through Decode (so was never validated) and lacked its value
// dereferenced a null field. Now it is MALFORMED, like any request that does not fit its struct.
TEST_F(StoreServiceTest, ARequestWithoutItsFieldsIsMalformedNotACrash) {
  EXPECT_EQ("ERROR MALFORMED", Call(MsgType::kStorePut, {{"key", T("k")}}));
  EXPECT_EQ("ERROR MALFORMED", Call(MsgType::kStoreCas, {{"key", T("k")}, {"value", Datum(3)}}));
  EXPECT_EQ("ERROR MALFORMED", Call(MsgType::kStoreIncr, {{"key", T("k")}}));
  EXPECT_EQ("STORE_VALUE {found: false}", Call(MsgType::kStoreGet, {{"key", T("k")}}));
}

}  // namespace
}  // namespace titan::store
