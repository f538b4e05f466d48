// KvEngine: TitanStore's data on SQLite. Plain values and sets share one key space; each value and
// member remembers whether it was text or binary. Callers group many operations in one transaction
// (Begin ... Commit) so one fsync covers a whole batch. Single-threaded.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/sqlite_db.h"
#include "schemas/cpp/datum.h"
#include "security/audit_log.h"

namespace titan::store {

// A value or set member: the protocol's `value` (its bytes, and whether they travelled as str).
using StoredValue = wire::Value;

// A key as it may be shown in an error: quoted, non-printable bytes escaped.
std::string ShowKey(std::string_view key);

// Errors of the operations below: kWrongType (the key holds the other kind of data, or a non-integer
// for Increment), kInvalid (an increment would overflow), kUnavailable (SQLite failed: roll the batch
// back). Messages name the key and say what to do.
class KvEngine {
 public:
  // Opens or creates the database at `path`.
  Status Open(const std::string& path, bool durable);

  Status Begin();
  Status Commit();
  void Rollback();
  // Whether a write can be made durable again after a full disk (sqlite::Db::ProbeWrite, 64 KiB).
  // Call between batches.
  Status ProbeSpace();

  Status Put(std::string_view key, const StoredValue& value);
  // `out` is empty when the key is absent.
  Status Get(std::string_view key, std::optional<StoredValue>* out);
  // `removed` is 1 when the key held a value or a set.
  Status Delete(std::string_view key, int* removed);
  Status SetAdd(std::string_view key, const StoredValue& member, int* added);
  Status SetRemove(std::string_view key, std::string_view member, int* removed);
  // Members in insertion order, at most `limit`; `truncated` when there were more.
  Status SetMembers(std::string_view key, size_t limit, std::vector<StoredValue>* out, bool* truncated);
  // Adds `delta` to the decimal integer at `key` (absent counts as 0) and stores the result as text.
  Status Increment(std::string_view key, int64_t delta, int64_t* result);
  // Sets `key` to `value` iff it currently holds `expected` (nullopt: iff absent). `current` is the
  // value held afterwards.
  Status CompareAndSet(std::string_view key, const std::optional<std::string>& expected,
                       const StoredValue& value, bool* swapped, std::optional<StoredValue>* current);
  // Keys (values and sets) starting with `prefix`, in byte order, at most `limit`.
  Status Keys(std::string_view prefix, size_t limit, std::vector<std::string>* out, bool* truncated);

  // The audit log's table (security/audit_log.h) in this database: rows appended between Begin and
  // Commit are committed, or rolled back, with the batch's writes.
  security::AuditLog& audit() { return audit_; }

 private:
  bool IsSet(std::string_view key, Status* err);
  bool IsValue(std::string_view key, Status* err);

  sqlite::Db db_;
  sqlite::Statement begin_, commit_, rollback_;
  sqlite::Statement get_, put_, del_value_, del_set_, is_set_, is_value_;
  sqlite::Statement sadd_, srem_, smembers_;
  sqlite::Statement keys_values_, keys_sets_;
  security::AuditLog audit_;  // after db_: its statements are finalized before the connection closes
  int64_t next_seq_ = 1;      // insertion order of set members
};

}  // namespace titan::store
