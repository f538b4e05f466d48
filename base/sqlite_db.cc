// SQLite connection and statement wrappers.
#include "base/sqlite_db.h"

#include <cerrno>

namespace titan::sqlite {
namespace {

// `message` as a Status carrying the errno behind SQLite result `rc`: ENOSPC for SQLITE_FULL (a write
// found the disk full, or max_page_count reached), the OS's errno for an I/O error (EDQUOT: a quota).
Status Failure(sqlite3* db, int rc, std::string message) {
  Status s = Status::Error(std::move(message));
  if ((rc & 0xff) == SQLITE_FULL) return std::move(s).WithOsError(ENOSPC);
  if ((rc & 0xff) == SQLITE_IOERR && db != nullptr) return std::move(s).WithOsError(sqlite3_system_errno(db));
  return s;
}

}  // namespace

Db::~Db() {
  begin_.reset();  // finalized before the connection closes
  commit_.reset();
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

std::string Db::LastError() const { return db_ ? sqlite3_errmsg(db_) : "database is not open"; }

Status Db::Open(const std::string& path, bool durable) {
  if (const int rc = sqlite3_open_v2(
          path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
      rc != SQLITE_OK) {
    return Failure(db_, rc, "cannot open database '" + path + "': " + LastError());
  }
  sqlite3_busy_timeout(db_, 5000);
  Status s = Exec("PRAGMA journal_mode=WAL");
  if (!s.ok()) return s;
  return Exec(durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=OFF");
}

void Db::Rollback() {
  if (db_ != nullptr && !sqlite3_get_autocommit(db_))
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  const std::string text(sql);
  if (const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
    std::string msg = err ? err : LastError();
    sqlite3_free(err);
    return Failure(db_, rc, "sqlite: " + msg + " (in: " + text.substr(0, 60) + ")");
  }
  return Status::Ok();
}

Status Db::ProbeWrite(int64_t bytes) {
  const std::string sql =
      "BEGIN IMMEDIATE;"
      "CREATE TABLE IF NOT EXISTS titan_space_probe(id INTEGER PRIMARY KEY, filler BLOB NOT NULL);"
      "INSERT OR REPLACE INTO titan_space_probe VALUES(1, zeroblob(" +
      std::to_string(bytes) + "));COMMIT;";
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  const std::string msg = err ? err : LastError();
  sqlite3_free(err);
  const char* file = sqlite3_db_filename(db_, "main");
  Status s = Failure(db_, rc, "cannot write '" + std::string(file ? file : "") + "': " + msg);
  Rollback();
  return s;
}

Status Db::Prepare(std::string_view sql, Statement* stmt) {
  if (stmt->stmt_ != nullptr) sqlite3_finalize(stmt->stmt_);
  stmt->stmt_ = nullptr;
  stmt->db_ = db_;
  if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                         &stmt->stmt_, nullptr) != SQLITE_OK) {
    return Status::Error("sqlite cannot prepare '" + std::string(sql) + "': " + LastError());
  }
  return Status::Ok();
}

Status Db::Prepare(std::string_view sql, std::unique_ptr<sql::Statement>* stmt) {
  auto made = std::make_unique<Statement>();
  Status s = Prepare(sql, made.get());
  *stmt = std::move(made);
  return s;
}

Status Db::RunKept(std::unique_ptr<Statement>& kept, const char* sql) {
  if (!kept) {
    kept = std::make_unique<Statement>();
    if (Status s = Prepare(sql, kept.get()); !s.ok()) return s;
  }
  kept->Reset();
  kept->Step();
  return kept->status();
}

Status Db::Begin() { return RunKept(begin_, "BEGIN"); }

Status Db::Commit() {
  Status s = RunKept(commit_, "COMMIT");
  if (!s.ok()) Rollback();
  return s;
}

bool Db::Damaged() const {
  if (db_ == nullptr) return false;
  const int code = sqlite3_errcode(db_) & 0xff;
  return code == SQLITE_CORRUPT || code == SQLITE_NOTADB;
}

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement& Statement::Bind(int i, std::string_view blob) {
  // SQLITE_TRANSIENT: SQLite copies, so the caller's buffer may go away before Step.
  sqlite3_bind_blob64(stmt_, i, blob.empty() ? "" : blob.data(), blob.size(), SQLITE_TRANSIENT);
  return *this;
}

Statement& Statement::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

bool Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  status_ =
      rc == SQLITE_DONE ? Status::Ok() : Failure(db_, rc, std::string("sqlite: ") + sqlite3_errmsg(db_));
  return false;
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  status_ = Status::Ok();
}

std::string_view Statement::ColumnBlob(int i) {
  const void* p = sqlite3_column_blob(stmt_, i);
  const int n = sqlite3_column_bytes(stmt_, i);
  return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string_view();
}

int64_t Statement::ColumnInt(int i) { return sqlite3_column_int64(stmt_, i); }

}  // namespace titan::sqlite
