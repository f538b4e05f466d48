// RAII over SQLite: a connection and prepared statements (the SQLite backend of base/sql_db.h). Errors
// are returned as values with the SQLite message, and with ENOSPC (os_error) when the disk or the
// database's size limit is full; nothing throws. One thread owns a Db and its statements.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/sql_db.h"
#include "base/status.h"

namespace titan::sqlite {

class Statement;

class Db final : public sql::Db {
 public:
  Db() = default;
  ~Db() override;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (creating) `path` in WAL mode. `durable`: synchronous=FULL (a COMMIT returns only after
  // fsync); otherwise synchronous=OFF.
  Status Open(const std::string& path, bool durable);
  sql::Dialect dialect() const override { return sql::Dialect::kSqlite; }
  Status Exec(std::string_view sql) override;
  // BEGIN / COMMIT (statements prepared once); a failed COMMIT is rolled back.
  Status Begin() override;
  Status Commit() override;
  // Ends the open transaction (if any) without its changes. Called after a failure, so its own
  // failure is moot: SQLite has then rolled the transaction back already or will at close.
  void Rollback() override;
  // Whether a write can be made durable now: one transaction that stores `bytes` bytes in the one row
  // of table titan_space_probe (created on first use), committed. Call outside any transaction. An
  // error leaves nothing behind; IsOutOfSpace(error): the disk is still full.
  Status ProbeWrite(int64_t bytes) override;
  // Compiles `sql` into `stmt` (replacing what it held).
  Status Prepare(std::string_view sql, Statement* stmt);
  Status Prepare(std::string_view sql, std::unique_ptr<sql::Statement>* stmt) override;
  int64_t Changes() override { return sqlite3_changes(db_); }
  // SQLite found the file is not a database, or malformed.
  bool Damaged() const override;
  sqlite3* raw() { return db_; }
  std::string LastError() const;

 private:
  // Runs `sql`, prepared into `kept` on first use (BEGIN, COMMIT).
  Status RunKept(std::unique_ptr<Statement>& kept, const char* sql);

  sqlite3* db_ = nullptr;
  std::unique_ptr<Statement> begin_, commit_;
};

// A prepared statement, reset and rebound for each use.
class Statement final : public sql::Statement {
 public:
  Statement() = default;
  ~Statement() override;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds are 1-based, as in SQLite.
  Statement& Bind(int i, std::string_view blob) override;
  Statement& Bind(int i, int64_t v) override;
  // Steps once: true when a row is available, false when done; errors go to status().
  bool Step() override;
  // Resets for the next use (clears bindings).
  void Reset() override;
  std::string_view ColumnBlob(int i) override;
  int64_t ColumnInt(int i) override;
  // The error of the last Step, if any.
  const Status& status() const override { return status_; }

 private:
  friend class Db;
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  Status status_ = Status::Ok();
};

}  // namespace titan::sqlite
