// TitanStore request handling: each request is decoded into its generated struct, checked against the
// schema's limits, applied to the engine, and answered with its reply struct.
#include "store/store_service.h"

#include <algorithm>

#include "schemas/generated/messages.h"

namespace titan::store {
namespace {

using wire::Message;
using wire::MsgType;
using wire::Value;

// INVALID for an empty key (unless `may_be_empty`), TOO_LARGE past max_key_bytes.
Status CheckKey(const Value& key, bool may_be_empty = false) {
  if (key.bytes.empty() && !may_be_empty) return Status::Invalid("the key is empty; use a non-empty key");
  if (key.bytes.size() > wire::kMaxKeyBytes) {
    return Status::TooLarge("key of " + std::to_string(key.bytes.size()) + " bytes; the limit is " +
                            std::to_string(wire::kMaxKeyBytes) + " bytes");
  }
  return Status::Ok();
}

// TOO_LARGE past max_value_bytes; `field` names it ("value", "member", "expected").
Status CheckValue(std::string_view field, const Value& v) {
  if (v.bytes.size() <= wire::kMaxValueBytes) return Status::Ok();
  return Status::TooLarge(std::string(field) + " of " + std::to_string(v.bytes.size()) +
                          " bytes; the limit is " + std::to_string(wire::kMaxValueBytes) +
                          " bytes (store large data as an artifact)");
}

// The first failed check, or Ok.
Status First(std::initializer_list<Status> checks) {
  for (const Status& s : checks) {
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<Message> Put(KvEngine& engine, const wire::StorePutMsg& m) {
  if (Status bad = First({CheckKey(m.key), CheckValue("value", m.value)}); !bad.ok()) return bad;
  if (Status s = engine.Put(m.key.bytes, m.value); !s.ok()) return s;
  return wire::StoreOkMsg{}.ToMessage();
}

Result<Message> Get(KvEngine& engine, const wire::StoreGetMsg& m) {
  if (Status bad = CheckKey(m.key); !bad.ok()) return bad;
  wire::StoreValueMsg reply;
  if (Status s = engine.Get(m.key.bytes, &reply.value); !s.ok()) return s;
  reply.found = reply.value.has_value();
  return std::move(reply).ToMessage();
}

Result<Message> Count(Status s, int n) {
  if (!s.ok()) return s;
  return wire::StoreCountMsg{.count = n}.ToMessage();
}

Result<Message> Delete(KvEngine& engine, const wire::StoreDeleteMsg& m) {
  if (Status bad = CheckKey(m.key); !bad.ok()) return bad;
  int n = 0;
  Status s = engine.Delete(m.key.bytes, &n);
  return Count(std::move(s), n);
}

Result<Message> SetAdd(KvEngine& engine, const wire::StoreSaddMsg& m) {
  if (Status bad = First({CheckKey(m.key), CheckValue("member", m.member)}); !bad.ok()) return bad;
  int n = 0;
  Status s = engine.SetAdd(m.key.bytes, m.member, &n);
  return Count(std::move(s), n);
}

Result<Message> SetRemove(KvEngine& engine, const wire::StoreSremMsg& m) {
  if (Status bad = First({CheckKey(m.key), CheckValue("member", m.member)}); !bad.ok()) return bad;
  int n = 0;
  Status s = engine.SetRemove(m.key.bytes, m.member.bytes, &n);
  return Count(std::move(s), n);
}

Result<Message> SetMembers(KvEngine& engine, const wire::StoreSmembersMsg& m) {
  if (Status bad = CheckKey(m.key); !bad.ok()) return bad;
  wire::StoreListMsg reply;
  if (Status s = engine.SetMembers(m.key.bytes, wire::kMaxMembersReply, &reply.items, &reply.truncated);
      !s.ok())
    return s;
  return std::move(reply).ToMessage();
}

Result<Message> Increment(KvEngine& engine, const wire::StoreIncrMsg& m) {
  if (Status bad = CheckKey(m.key); !bad.ok()) return bad;
  wire::StoreIntMsg reply;
  if (Status s = engine.Increment(m.key.bytes, m.delta, &reply.value); !s.ok()) return s;
  return reply.ToMessage();
}

Result<Message> CompareAndSet(KvEngine& engine, const wire::StoreCasMsg& m) {
  const Status bad = First({CheckKey(m.key), CheckValue("value", m.value),
                            m.expected ? CheckValue("expected", *m.expected) : Status::Ok()});
  if (!bad.ok()) return bad;
  std::optional<std::string> expected;
  if (m.expected) expected = m.expected->bytes;
  wire::StoreCasResultMsg reply;
  if (Status s = engine.CompareAndSet(m.key.bytes, expected, m.value, &reply.swapped, &reply.current);
      !s.ok())
    return s;
  return std::move(reply).ToMessage();
}

Result<Message> Keys(KvEngine& engine, const wire::StoreKeysMsg& m) {
  if (Status bad = CheckKey(m.prefix, /*may_be_empty=*/true); !bad.ok()) return bad;
  if (m.limit <= 0) return Status::Invalid("limit must be at least 1");
  std::vector<std::string> keys;
  wire::StoreListMsg reply;
  const auto limit = static_cast<size_t>(std::min<int64_t>(m.limit, wire::kMaxMembersReply));
  if (Status s = engine.Keys(m.prefix.bytes, limit, &keys, &reply.truncated); !s.ok()) return s;
  reply.items.reserve(keys.size());
  for (auto& k : keys) {
    const bool text = wire::IsValidUtf8(k);
    reply.items.push_back(Value{std::move(k), text});
  }
  return std::move(reply).ToMessage();
}

Result<Message> Hello(const wire::HelloMsg&) {
  return wire::WelcomeMsg{.node = "store", .version = TITAN_VERSION}.ToMessage();
}

// Decodes `req` into Req and answers it with `handle`; a request that does not decode is MALFORMED.
template <class Req, class Handle>
Result<Message> Serve(const Message& req, Handle handle) {
  Result<Req> typed = Req::From(req);
  if (!typed.ok()) return typed.status();
  return handle(typed.value());
}

}  // namespace

bool StoreService::IsWrite(MsgType type) { return wire::SpecOf(type).writes; }

std::optional<wire::AuditEntry> StoreService::AuditOf(const std::string& user_id, const Message& request,
                                                      const Message& reply, int64_t wall_ms) {
  if (!security::IsAudited(request, reply)) return std::nullopt;
  return security::AuditRow(user_id, request, reply, wall_ms,
                            request.Has("key") ? ShowKey(request.Bytes("key")) : "");
}

Message StoreService::Handle(const Message& req, bool* storage_failed) {
  Status failure;
  Message reply = Handle(req, &failure);
  *storage_failed = !failure.ok();
  return reply;
}

Message StoreService::Handle(const Message& req, Status* storage_failure) {
  *storage_failure = Status::Ok();
  Result<Message> reply = Dispatch(req);
  if (reply.ok()) return std::move(reply).value();
  if (reply.status().code() == Status::Code::kUnavailable) *storage_failure = reply.status();  // rolled back
  return wire::MakeError(reply.status());
}

Result<Message> StoreService::Dispatch(const Message& req) {
  KvEngine& e = *engine_;
  auto with_engine = [&e](auto op) { return [&e, op](const auto& m) { return op(e, m); }; };
  switch (req.type) {
    case MsgType::kHello:
      return Serve<wire::HelloMsg>(req, Hello);
    case MsgType::kStorePut:
      return Serve<wire::StorePutMsg>(req, with_engine(Put));
    case MsgType::kStoreGet:
      return Serve<wire::StoreGetMsg>(req, with_engine(Get));
    case MsgType::kStoreDelete:
      return Serve<wire::StoreDeleteMsg>(req, with_engine(Delete));
    case MsgType::kStoreSadd:
      return Serve<wire::StoreSaddMsg>(req, with_engine(SetAdd));
    case MsgType::kStoreSrem:
      return Serve<wire::StoreSremMsg>(req, with_engine(SetRemove));
    case MsgType::kStoreSmembers:
      return Serve<wire::StoreSmembersMsg>(req, with_engine(SetMembers));
    case MsgType::kStoreIncr:
      return Serve<wire::StoreIncrMsg>(req, with_engine(Increment));
    case MsgType::kStoreCas:
      return Serve<wire::StoreCasMsg>(req, with_engine(CompareAndSet));
    case MsgType::kStoreKeys:
      return Serve<wire::StoreKeysMsg>(req, with_engine(Keys));
    case MsgType::kMetricsGet:
      if (metrics_ == nullptr) break;
      return Serve<wire::MetricsGetMsg>(req,
                                        [this](const auto&) -> Result<Message> { return metrics_->Reply(); });
    case MsgType::kAuditList:
      return Serve<wire::AuditListMsg>(req, [&e, this](const auto& m) -> Result<Message> {
        Message reply = e.audit().List(m);
        if (!audit_writes_ && reply.type == MsgType::kAuditListReply)  // an empty list would mislead
          reply.Set("recording", wire::Datum(false));
        return reply;
      });
    default:
      break;
  }
  return Status(Status::Code::kUnknownType,
                std::string(wire::NameOf(req.type)) + " is not a request TitanStore answers");
}

}  // namespace titan::store
