// TitanStore request handling: limits, dispatch to the engine, reply building.
#include "store_service.h"

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

// Non-empty error text when a key or value breaks the schema limits.
std::string CheckLimits(const Message& m) {
  const std::string_view key = m.type == MsgType::kStoreKeys ? m.Bytes("prefix") : m.Bytes("key");
  if (m.type != MsgType::kStoreKeys && key.empty()) return "INVALID:the key is empty; use a non-empty key";
  if (key.size() > wire::kMaxKeyBytes) {
    return "TOO_LARGE:key of " + std::to_string(key.size()) + " bytes; the limit is " +
           std::to_string(wire::kMaxKeyBytes) + " bytes";
  }
  for (const char* field : {"value", "member", "expected"}) {
    const size_t n = m.Bytes(field).size();
    if (n > wire::kMaxValueBytes) {
      return "TOO_LARGE:" + std::string(field) + " of " + std::to_string(n) + " bytes; the limit is " +
             std::to_string(wire::kMaxValueBytes) + " bytes (store large data as an artifact)";
    }
  }
  if (m.type == MsgType::kStoreKeys && m.Int("limit") <= 0) return "INVALID:limit must be at least 1";
  return {};
}

Message Error(ErrorCode code, std::string reason) { return wire::MakeError(code, std::move(reason)); }

// A key as it may be shown in an error: quoted, non-printable bytes escaped.
std::string Show(std::string_view key) { return wire::Render(Datum(wire::Text{std::string(key)})); }

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
    return Error(ErrorCode::kUnknownType,
                 std::string(wire::NameOf(req.type)) + " is not a request TitanStore answers");
  }
  if (const std::string bad = CheckLimits(req); !bad.empty()) {
    const size_t colon = bad.find(':');
    return Error(bad.substr(0, colon) == "INVALID" ? ErrorCode::kInvalid : ErrorCode::kTooLarge,
                 bad.substr(colon + 1));
  }
  Outcome outcome;
  Message reply = Dispatch(req, &outcome);
  switch (outcome.fault) {
    case Fault::kNone:
      return reply;
    case Fault::kWrongType:
      return Error(ErrorCode::kWrongType,
                   "key " + Show(req.Bytes("key")) + " holds " +
                       (req.type == MsgType::kStoreSadd || req.type == MsgType::kStoreSrem ||
                                req.type == MsgType::kStoreSmembers
                            ? "a plain value, not a set"
                            : "a set, not a plain value") +
                       "; use another key or delete it first");
    case Fault::kNotInteger:
      return Error(
          ErrorCode::kWrongType,
          "key " + Show(req.Bytes("key")) + " does not hold a decimal integer, so it cannot be incremented");
    case Fault::kOverflow:
      return Error(ErrorCode::kInvalid,
                   "incrementing key " + Show(req.Bytes("key")) + " would overflow a signed 64-bit integer");
    case Fault::kStorage:
      *storage_failed = true;
      return Error(ErrorCode::kUnavailable, "storage failure (" + outcome.detail + "); retry later");
  }
  return Error(ErrorCode::kInternal, "unhandled outcome");
}

Message StoreService::Dispatch(const Message& req, Outcome* outcome) {
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
      return Error(ErrorCode::kInternal, "unreachable");
  }
}

}  // namespace titan::store
