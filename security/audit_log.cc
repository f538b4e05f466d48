// The audit table on SQLite, and what a row says about a request.
#include "security/audit_log.h"

#include <algorithm>

namespace titan::security {
namespace {

// AUTOINCREMENT: a row's seq is never reused, not even after retention pruned every row.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL,
  principal TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit(ts_ms);
)sql";

Status Storage(const sqlite::Statement& s, const char* what) {
  return Status::Error("cannot " + std::string(what) + " the audit log (" + s.status().message() +
                       "); retry later")
      .WithOsError(s.status().os_error());
}

}  // namespace

std::string AuditPrincipal(const std::string& user_id) {
  return user_id.empty() ? std::string(kPlaintextPrincipal) : user_id;
}

std::string AuditOutcome(const wire::Message& reply) {
  return reply.type == wire::MsgType::kError ? std::string(reply.Bytes("code")) : "ok";
}

bool IsAudited(const wire::Message& request, const wire::Message& reply) {
  return wire::SpecOf(request.type).writes || AuditOutcome(reply) == "FORBIDDEN";
}

wire::AuditEntry AuditRow(const std::string& user_id, const wire::Message& request,
                          const wire::Message& reply, int64_t wall_ms, std::string target) {
  return wire::AuditEntry{.ts_ms = wall_ms,
                          .principal = AuditPrincipal(user_id),
                          .action = std::string(wire::NameOf(request.type)),
                          .target = std::move(target),
                          .outcome = AuditOutcome(reply)};
}

Status AuditLog::Open(sqlite::Db* db) {
  db_ = db;
  if (Status s = db_->Exec(kSchema); !s.ok()) return s;
  struct {
    sqlite::Statement* stmt;
    const char* sql;
  } const statements[] = {
      {&append_, "INSERT INTO audit(ts_ms, principal, action, target, outcome) VALUES(?1, ?2, ?3, ?4, ?5)"},
      {&list_,
       "SELECT seq, ts_ms, principal, action, target, outcome FROM audit "
       "WHERE ts_ms >= ?1 AND (length(?2) = 0 OR principal = ?2) ORDER BY seq DESC LIMIT ?3"},
      {&prune_, "DELETE FROM audit WHERE ts_ms < ?1"},
  };
  for (const auto& st : statements) {
    if (Status s = db_->Prepare(st.sql, st.stmt); !s.ok()) return s;
  }
  return Status::Ok();
}

Status AuditLog::Append(const wire::AuditEntry& e) {
  append_.Reset();
  append_.Bind(1, e.ts_ms).Bind(2, e.principal).Bind(3, e.action).Bind(4, e.target).Bind(5, e.outcome).Step();
  return append_.status().ok() ? Status::Ok() : Storage(append_, "append to");
}

wire::Message AuditLog::List(const wire::AuditListMsg& req) {
  const int64_t limit = std::min(req.limit.value_or(kAuditDefaultLimit), kAuditMaxLimit);
  if (limit < 1) {
    return wire::MakeError(wire::ErrorCode::kInvalid,
                           "limit must be at least 1 (at most " + std::to_string(kAuditMaxLimit) + ")");
  }
  wire::AuditListReplyMsg reply;
  list_.Reset();
  list_.Bind(1, req.since_ms.value_or(INT64_MIN)).Bind(2, req.principal.value_or("")).Bind(3, limit + 1);
  while (list_.Step()) {
    reply.entries.push_back(wire::AuditEntry{.seq = list_.ColumnInt(0),
                                             .ts_ms = list_.ColumnInt(1),
                                             .principal = std::string(list_.ColumnBlob(2)),
                                             .action = std::string(list_.ColumnBlob(3)),
                                             .target = std::string(list_.ColumnBlob(4)),
                                             .outcome = std::string(list_.ColumnBlob(5))});
  }
  if (!list_.status().ok()) return wire::MakeError(Storage(list_, "read"));
  reply.truncated = static_cast<int64_t>(reply.entries.size()) > limit;
  if (reply.truncated) reply.entries.pop_back();
  std::reverse(reply.entries.begin(), reply.entries.end());  // newest first from SQLite; oldest first here
  return std::move(reply).ToMessage();
}

Result<int64_t> AuditLog::Prune(int64_t before_ms) {
  prune_.Reset();
  prune_.Bind(1, before_ms).Step();
  if (!prune_.status().ok()) return Storage(prune_, "prune");
  return static_cast<int64_t>(sqlite3_changes(db_->raw()));
}

}  // namespace titan::security
