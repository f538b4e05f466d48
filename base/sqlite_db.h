// RAII over SQLite: a connection and prepared statements. Errors are returned as values with the
// SQLite message, and with ENOSPC (os_error) when the disk or the database's size limit is full;
// nothing throws. One thread owns a Db and its statements.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace titan::sqlite {

class Statement;

class Db {
 public:
  Db() = default;
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Opens (creating) `path` in WAL mode. `durable`: synchronous=FULL (a COMMIT returns only after
  // fsync); otherwise synchronous=OFF.
  Status Open(const std::string& path, bool durable);
  Status Exec(std::string_view sql);
  // Ends the open transaction (if any) without its changes. Called after a failure, so its own
  // failure is moot: SQLite has then rolled the transaction back already or will at close.
  void Rollback();
  // Whether a write can be made durable now: one transaction that stores `bytes` bytes in the one row
  // of table titan_space_probe (created on first use), committed. Call outside any transaction. An
  // error leaves nothing behind; IsOutOfSpace(error): the disk is still full.
  Status ProbeWrite(int64_t bytes);
  // Compiles `sql` into `stmt` (replacing what it held).
  Status Prepare(std::string_view sql, Statement* stmt);
  sqlite3* raw() { return db_; }
  std::string LastError() const;

 private:
  sqlite3* db_ = nullptr;
};

// A prepared statement, reset and rebound for each use.
class Statement {
 public:
  Statement() = default;
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds are 1-based, as in SQLite.
  Statement& Bind(int i, std::string_view blob);
  Statement& Bind(int i, int64_t v);
  // Steps once: true when a row is available, false when done; errors go to status().
  bool Step();
  // Resets for the next use (clears bindings).
  void Reset();
  std::string_view ColumnBlob(int i);
  int64_t ColumnInt(int i);
  // The error of the last Step, if any.
  const Status& status() const { return status_; }

 private:
  friend class Db;
  sqlite3_stmt* stmt_ = nullptr;
  sqlite3* db_ = nullptr;
  Status status_ = Status::Ok();
};

}  // namespace titan::sqlite
