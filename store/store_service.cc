// TitanStore request handling: limits, dispatch to the engine, reply building.
#include "store/store_service.h"

namespace titan::store {
namespace {

using wire::Datum;
using wire::ErrorCode;
using wire::Message;
using wire::MsgType;

Datum ToDatum(const StoredValue& v) { return wire::ValueDatum(v.bytes, v.text); }

StoredValue FromField(const Message& m, std::string_view name) {
  const Datum* d = m.Find(name);
  return StoredValue{std::string(d->bytes()), d->is_text()};
}

// INVALID or TOO_LARGE when a key or value breaks the schema limits.
Status CheckLimits(const Message& m) {
  const std::string_view key = m.type == MsgType::kStoreKeys ? m.Bytes("prefix") : m.Bytes("key");
  if (m.type != MsgType::kStoreKeys && key.empty())
    return Status::Invalid("the key is empty; use a non-empty key");
  if (key.size() > wire::kMaxKeyBytes) {
    return Status::TooLarge("key of " + std::to_string(key.size()) + " bytes; the limit is " +
                            std::to_string(wire::kMaxKeyBytes) + " bytes");
  }
  for (const char* field : {"value", "member", "expected"}) {
    const size_t n = m.Bytes(field).size();
    if (n > wire::kMaxValueBytes) {
      return Status::TooLarge(std::string(field) + " of " + std::to_string(n) + " bytes; the limit is " +
                              std::to_string(wire::kMaxValueBytes) +
                              " bytes (store large data as an artifact)");
    }
  }
  if (m.type == MsgType::kStoreKeys && m.Int("limit") <= 0)
    return Status::Invalid("limit must be at least 1");
  return Status::Ok();
}

Message Count(int n) { return wire::MakeMessage(MsgType::kStoreCount).Set("count", Datum(n)); }

}  // namespace

bool StoreService::IsWrite(MsgType type) {
  switch (type) {
    case MsgType::kStorePut:
    case MsgType::kStoreDelete:
    case MsgType::kStoreSadd:
    case MsgType::kStoreSrem:
    case MsgType::kStoreIncr:
    case MsgType::kStoreCas:
      return true;
    default:
      return false;
  }
}

Message StoreService::Handle(const Message& req, bool* storage_failed) {
  *storage_failed = false;
  if (req.type == MsgType::kHello) {
    return wire::MakeMessage(MsgType::kWelcome)
        .Set("node", Datum(wire::Text{"store"}))
        .Set("version", Datum(wire::Text{TITAN_VERSION}));
  }
  if (req.type < MsgType::kStorePut || req.type > MsgType::kStoreKeys) {
    return wire::MakeError(ErrorCode::kUnknownType,
                           std::string(wire::NameOf(req.type)) + " is not a request TitanStore answers");
  }
  if (Status bad = CheckLimits(req); !bad.ok()) return wire::MakeError(bad);
  Status outcome;
  Message reply = Dispatch(req, &outcome);
  if (outcome.ok()) return reply;
  *storage_failed = outcome.code() == Status::Code::kUnavailable;  // the batch is rolled back
  return wire::MakeError(outcome);
}

Message StoreService::Dispatch(const Message& req, Status* outcome) {
  const std::string_view key = req.Bytes("key");
  switch (req.type) {
    case MsgType::kStorePut:
      *outcome = engine_->Put(key, FromField(req, "value"));
      return wire::MakeMessage(MsgType::kStoreOk);
    case MsgType::kStoreGet: {
      std::optional<StoredValue> v;
      *outcome = engine_->Get(key, &v);
      Message m = wire::MakeMessage(MsgType::kStoreValue).Set("found", Datum(v.has_value()));
      if (v) m.Set("value", ToDatum(*v));
      return m;
    }
    case MsgType::kStoreDelete: {
      int n = 0;
      *outcome = engine_->Delete(key, &n);
      return Count(n);
    }
    case MsgType::kStoreSadd: {
      int n = 0;
      *outcome = engine_->SetAdd(key, FromField(req, "member"), &n);
      return Count(n);
    }
    case MsgType::kStoreSrem: {
      int n = 0;
      *outcome = engine_->SetRemove(key, req.Bytes("member"), &n);
      return Count(n);
    }
    case MsgType::kStoreSmembers: {
      std::vector<StoredValue> members;
      bool truncated = false;
      *outcome = engine_->SetMembers(key, wire::kMaxMembersReply, &members, &truncated);
      wire::List items;
      items.reserve(members.size());
      for (const auto& v : members) items.push_back(ToDatum(v));
      return wire::MakeMessage(MsgType::kStoreList)
          .Set("items", Datum(std::move(items)))
          .Set("truncated", Datum(truncated));
    }
    case MsgType::kStoreIncr: {
      int64_t result = 0;
      *outcome = engine_->Increment(key, req.Int("delta"), &result);
      return wire::MakeMessage(MsgType::kStoreInt).Set("value", Datum(result));
    }
    case MsgType::kStoreCas: {
      std::optional<std::string> expected;
      if (req.Has("expected")) expected = std::string(req.Bytes("expected"));
      bool swapped = false;
      std::optional<StoredValue> current;
      *outcome = engine_->CompareAndSet(key, expected, FromField(req, "value"), &swapped, &current);
      Message m = wire::MakeMessage(MsgType::kStoreCasResult).Set("swapped", Datum(swapped));
      if (current) m.Set("current", ToDatum(*current));
      return m;
    }
    case MsgType::kStoreKeys: {
      std::vector<std::string> keys;
      bool truncated = false;
      const auto limit = static_cast<size_t>(std::min<int64_t>(req.Int("limit"), wire::kMaxMembersReply));
      *outcome = engine_->Keys(req.Bytes("prefix"), limit, &keys, &truncated);
      wire::List items;
      for (auto& k : keys) items.push_back(wire::ValueDatum(k, wire::IsValidUtf8(k)));
      return wire::MakeMessage(MsgType::kStoreList)
          .Set("items", Datum(std::move(items)))
          .Set("truncated", Datum(truncated));
    }
    default:
      return wire::MakeError(ErrorCode::kInternal, "unreachable");
  }
}

}  // namespace titan::store
