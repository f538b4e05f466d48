// The audit log: who did what to what, and how it ended, as rows of an `audit` table in a node's own
// database (the broker's journal, SQLite or PostgreSQL; TitanStore's store.db). Rows are written inside the
// transaction of the change they record, so a row is durable exactly when its change is. A row names what was
// acted on (ids, names, a store key), never a value, an environment or a script. AUDIT_LIST reads it (admin).
// Single-threaded: the node's loop owns it, with the database it was opened on.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/sql_db.h"
#include "schemas/cpp/codec.h"
#include "schemas/generated/messages.h"

namespace titan::security {

// The principal an audit row names for a sender: its ZAP User-Id, or this without CURVE (no principal
// name can be it: names are plain words, principals.h).
inline constexpr std::string_view kPlaintextPrincipal = "(plaintext)";
// AUDIT_LIST's limit when the request gives none, and the most one reply holds.
inline constexpr int64_t kAuditDefaultLimit = 1000;
inline constexpr int64_t kAuditMaxLimit = 10000;

std::string AuditPrincipal(const std::string& user_id);
// "ok", or the code of the ERROR `reply` is (FORBIDDEN, INVALID, ...).
std::string AuditOutcome(const wire::Message& reply);
// Whether a request with this answer belongs in the audit log: it changes state (`writes: true` in the
// schema), or it was refused FORBIDDEN (a denied attempt, whatever it asked).
bool IsAudited(const wire::Message& request, const wire::Message& reply);
// The row of `request` answered with `reply`, from the sender with ZAP User-Id `user_id`, recorded at
// `wall_ms`: action the request's name, outcome AuditOutcome(reply), `target` as the node names it.
wire::AuditEntry AuditRow(const std::string& user_id, const wire::Message& request,
                          const wire::Message& reply, int64_t wall_ms, std::string target);

class AuditLog {
 public:
  // Creates the table if the database lacks it and prepares the statements. `db` must stay open while
  // this is used.
  Status Open(sql::Db* db);

  // Appends a row; `entry.seq` is ignored (the log numbers rows, never reusing a number). Call inside the
  // transaction of the change it records.
  Status Append(const wire::AuditEntry& entry);
  // AUDIT_LIST's answer: the newest `limit` rows (default and most: the constants above) recorded at or
  // after `since_ms` and of `principal`, when given, oldest first; `truncated` when older rows matched too.
  // INVALID for a limit below 1; UNAVAILABLE when the database fails.
  wire::Message List(const wire::AuditListMsg& request);
  // Deletes the rows recorded before `before_ms` (wall clock); how many.
  Result<int64_t> Prune(int64_t before_ms);

 private:
  sql::Db* db_ = nullptr;
  std::unique_ptr<sql::Statement> append_, list_, prune_;
};

}  // namespace titan::security
