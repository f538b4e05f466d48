// StoreService: turns one decoded TitanStore request into its reply, applying the limits of the
// schema, through the generated message structs. It does no I/O besides the engine; the node batches
// calls between Begin and Commit.
#pragma once

#include <optional>
#include <string>

#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"
#include "store/kv_engine.h"
#include "store/store_metrics.h"

namespace titan::store {

class StoreService {
 public:
  // `metrics` (may be null: METRICS_GET is then UNKNOWN_TYPE) answers METRICS_GET; it must outlive this.
  // `audit_writes`: the node records its writes in the audit log (--audit-writes); AUDIT_LIST says when not.
  explicit StoreService(KvEngine* engine, const StoreMetrics* metrics = nullptr, bool audit_writes = true)
      : engine_(engine), metrics_(metrics), audit_writes_(audit_writes) {}

  // The reply to `request` (its rid is copied by the caller). Sets `storage_failed` when SQLite
  // failed: the batch must then be rolled back and writes answered UNAVAILABLE.
  wire::Message Handle(const wire::Message& request, bool* storage_failed);
  // The same, with SQLite's failure itself in `storage_failure` (Ok when none): IsOutOfSpace(it) when the
  // disk is full.
  wire::Message Handle(const wire::Message& request, Status* storage_failure);

  // True for requests that change data (`writes: true` in schemas/protocol.yaml): their success depends
  // on the batch committing.
  static bool IsWrite(wire::MsgType type);

  // The audit row (`titan store --audit-writes`) of `request` answered `reply`, from the sender with ZAP
  // User-Id `user_id`: a write or a FORBIDDEN refusal, naming the key as ShowKey shows it, never a value
  // or a member. Nullopt for anything else.
  static std::optional<wire::AuditEntry> AuditOf(const std::string& user_id, const wire::Message& request,
                                                 const wire::Message& reply, int64_t wall_ms);

 private:
  // The reply, or why there is none: the limits' INVALID/TOO_LARGE, MALFORMED, UNKNOWN_TYPE for what the
  // store does not answer, or the engine's failure (UNAVAILABLE: storage failed).
  Result<wire::Message> Dispatch(const wire::Message& req);
  KvEngine* engine_;
  const StoreMetrics* metrics_;
  bool audit_writes_;
};

}  // namespace titan::store
