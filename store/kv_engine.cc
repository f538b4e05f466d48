// SQLite-backed TitanStore operations.
#include "store/kv_engine.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include "schemas/cpp/codec.h"

namespace titan::store {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv(key BLOB PRIMARY KEY, text INTEGER NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sets(key BLOB NOT NULL, member BLOB NOT NULL, text INTEGER NOT NULL,
                                seq INTEGER NOT NULL, PRIMARY KEY(key, member)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sets_by_seq ON sets(key, seq);
)sql";

// Parses a whole decimal int64 ("-12"); no spaces, no '+'.
bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// The smallest byte string greater than every string starting with `prefix`; empty when none.
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xFF) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

}  // namespace

Status KvEngine::Open(const std::string& path, bool durable) {
  Status s = db_.Open(path, durable);
  if (!s.ok()) return s;
  if (s = db_.Exec(kSchema); !s.ok()) return s;
  struct {
    sqlite::Statement* stmt;
    const char* sql;
  } const statements[] = {
      {&begin_, "BEGIN"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&get_, "SELECT value, text FROM kv WHERE key = ?1"},
      {&put_,
       "INSERT INTO kv(key, text, value) VALUES(?1, ?2, ?3) "
       "ON CONFLICT(key) DO UPDATE SET text = excluded.text, value = excluded.value"},
      {&del_value_, "DELETE FROM kv WHERE key = ?1"},
      {&del_set_, "DELETE FROM sets WHERE key = ?1"},
      {&is_set_, "SELECT 1 FROM sets WHERE key = ?1 LIMIT 1"},
      {&is_value_, "SELECT 1 FROM kv WHERE key = ?1"},
      {&sadd_, "INSERT INTO sets(key, member, text, seq) VALUES(?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"},
      {&srem_, "DELETE FROM sets WHERE key = ?1 AND member = ?2"},
      {&smembers_, "SELECT member, text FROM sets WHERE key = ?1 ORDER BY seq LIMIT ?2"},
      {&keys_values_, "SELECT key FROM kv WHERE key >= ?1 AND (?2 = x'' OR key < ?2) ORDER BY key LIMIT ?3"},
      {&keys_sets_,
       "SELECT DISTINCT key FROM sets WHERE key >= ?1 AND (?2 = x'' OR key < ?2) ORDER BY key LIMIT ?3"},
  };
  for (const auto& st : statements) {
    if (s = db_.Prepare(st.sql, st.stmt); !s.ok()) return s;
  }
  if (s = audit_.Open(&db_); !s.ok()) return s;
  sqlite::Statement max_seq;
  if (s = db_.Prepare("SELECT COALESCE(MAX(seq), 0) FROM sets", &max_seq); !s.ok()) return s;
  if (max_seq.Step()) next_seq_ = max_seq.ColumnInt(0) + 1;
  return max_seq.status();
}

Status KvEngine::Begin() {
  begin_.Reset();
  begin_.Step();
  return begin_.status();
}

Status KvEngine::Commit() {
  commit_.Reset();
  commit_.Step();
  return commit_.status();
}

Status KvEngine::ProbeSpace() { return db_.ProbeWrite(64 * 1024); }

void KvEngine::Rollback() {
  rollback_.Reset();
  rollback_.Step();
}

std::string ShowKey(std::string_view key) { return wire::Render(wire::Datum(wire::Text{std::string(key)})); }

namespace {

Status Storage(const sqlite::Statement& s) {
  return Status::Error("storage failure (" + s.status().message() + "); retry later")
      .WithOsError(s.status().os_error());
}

Status HoldsASet(std::string_view key) {
  return Status::WrongType("key " + ShowKey(key) +
                           " holds a set, not a plain value; use another key or delete it first");
}

Status HoldsAValue(std::string_view key) {
  return Status::WrongType("key " + ShowKey(key) +
                           " holds a plain value, not a set; use another key or delete it first");
}

}  // namespace

bool KvEngine::IsSet(std::string_view key, Status* err) {
  is_set_.Reset();
  const bool found = is_set_.Bind(1, key).Step();
  if (!is_set_.status().ok()) *err = Storage(is_set_);
  return found;
}

bool KvEngine::IsValue(std::string_view key, Status* err) {
  is_value_.Reset();
  const bool found = is_value_.Bind(1, key).Step();
  if (!is_value_.status().ok()) *err = Storage(is_value_);
  return found;
}

Status KvEngine::Put(std::string_view key, const StoredValue& value) {
  Status out;
  if (IsSet(key, &out)) return HoldsASet(key);
  if (!out.ok()) return out;
  put_.Reset();
  put_.Bind(1, key).Bind(2, int64_t{value.text}).Bind(3, value.bytes).Step();
  return put_.status().ok() ? Status::Ok() : Storage(put_);
}

Status KvEngine::Get(std::string_view key, std::optional<StoredValue>* out) {
  get_.Reset();
  if (get_.Bind(1, key).Step()) {
    *out = StoredValue{std::string(get_.ColumnBlob(0)), get_.ColumnInt(1) != 0};
    return Status::Ok();
  }
  if (!get_.status().ok()) return Storage(get_);
  out->reset();
  Status err;
  if (IsSet(key, &err)) return HoldsASet(key);
  return err;
}

Status KvEngine::Delete(std::string_view key, int* removed) {
  del_value_.Reset();
  del_value_.Bind(1, key).Step();
  if (!del_value_.status().ok()) return Storage(del_value_);
  int n = sqlite3_changes(db_.raw());
  del_set_.Reset();
  del_set_.Bind(1, key).Step();
  if (!del_set_.status().ok()) return Storage(del_set_);
  n += sqlite3_changes(db_.raw());
  *removed = n > 0 ? 1 : 0;
  return Status::Ok();
}

Status KvEngine::SetAdd(std::string_view key, const StoredValue& member, int* added) {
  Status out;
  if (IsValue(key, &out)) return HoldsAValue(key);
  if (!out.ok()) return out;
  sadd_.Reset();
  sadd_.Bind(1, key).Bind(2, member.bytes).Bind(3, int64_t{member.text}).Bind(4, next_seq_).Step();
  if (!sadd_.status().ok()) return Storage(sadd_);
  *added = sqlite3_changes(db_.raw()) > 0 ? 1 : 0;
  if (*added) ++next_seq_;
  return Status::Ok();
}

Status KvEngine::SetRemove(std::string_view key, std::string_view member, int* removed) {
  Status out;
  if (IsValue(key, &out)) return HoldsAValue(key);
  if (!out.ok()) return out;
  srem_.Reset();
  srem_.Bind(1, key).Bind(2, member).Step();
  if (!srem_.status().ok()) return Storage(srem_);
  *removed = sqlite3_changes(db_.raw()) > 0 ? 1 : 0;
  return Status::Ok();
}

Status KvEngine::SetMembers(std::string_view key, size_t limit, std::vector<StoredValue>* out,
                            bool* truncated) {
  Status err;
  if (IsValue(key, &err)) return HoldsAValue(key);
  if (!err.ok()) return err;
  out->clear();
  smembers_.Reset();
  smembers_.Bind(1, key).Bind(2, static_cast<int64_t>(limit) + 1);
  while (smembers_.Step()) {
    out->push_back(StoredValue{std::string(smembers_.ColumnBlob(0)), smembers_.ColumnInt(1) != 0});
  }
  if (!smembers_.status().ok()) return Storage(smembers_);
  *truncated = out->size() > limit;
  if (*truncated) out->resize(limit);
  return Status::Ok();
}

Status KvEngine::Increment(std::string_view key, int64_t delta, int64_t* result) {
  std::optional<StoredValue> cur;
  if (Status o = Get(key, &cur); !o.ok()) return o;
  int64_t base = 0;
  if (cur && !ParseInt(cur->bytes, &base)) {
    return Status::WrongType("key " + ShowKey(key) +
                             " does not hold a decimal integer, so it cannot be incremented");
  }
  if ((delta > 0 && base > std::numeric_limits<int64_t>::max() - delta) ||
      (delta < 0 && base < std::numeric_limits<int64_t>::min() - delta)) {
    return Status::Invalid("incrementing key " + ShowKey(key) + " would overflow a signed 64-bit integer");
  }
  *result = base + delta;
  return Put(key, StoredValue{std::to_string(*result), true});
}

Status KvEngine::CompareAndSet(std::string_view key, const std::optional<std::string>& expected,
                               const StoredValue& value, bool* swapped, std::optional<StoredValue>* current) {
  if (Status o = Get(key, current); !o.ok()) return o;
  const bool matches = expected ? (*current && (*current)->bytes == *expected) : !current->has_value();
  *swapped = matches;
  if (!matches) return Status::Ok();
  if (Status o = Put(key, value); !o.ok()) return o;
  *current = value;
  return Status::Ok();
}

Status KvEngine::Keys(std::string_view prefix, size_t limit, std::vector<std::string>* out, bool* truncated) {
  const std::string end = PrefixEnd(prefix);
  out->clear();
  for (sqlite::Statement* s : {&keys_values_, &keys_sets_}) {
    s->Reset();
    s->Bind(1, prefix).Bind(2, end).Bind(3, static_cast<int64_t>(limit) + 1);
    while (s->Step()) out->emplace_back(s->ColumnBlob(0));
    if (!s->status().ok()) return Storage(*s);
  }
  std::sort(out->begin(), out->end());  // keys are either values or sets, never both: no duplicates
  *truncated = out->size() > limit;
  if (*truncated) out->resize(limit);
  return Status::Ok();
}

}  // namespace titan::store
