// The SQL a node's durable state goes through, whatever holds it: a connection (Db) and its prepared
// statements (Statement). Two backends implement it: SQLite (base/sqlite_db.h, a file beside the node)
// and PostgreSQL (base/pg_db.h, a server the node connects to). Code written against this interface
// (the broker journal, the audit log) states its SQL once, in the dialect both accept; where they differ
// it asks dialect(). One thread owns a Db and its statements; nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace titan::sql {

enum class Dialect { kSqlite, kPostgres };

// A prepared statement, reset and rebound for each use. Parameters are written ?1, ?2, ... (1-based);
// one left unbound is NULL. Results: a NULL column reads as an empty blob / 0.
class Statement {
 public:
  virtual ~Statement() = default;
  virtual Statement& Bind(int i, std::string_view blob) = 0;
  virtual Statement& Bind(int i, int64_t v) = 0;
  // Steps once: true when a row is available, false when done; errors go to status(). A write inside a
  // transaction may be deferred by the backend until the next read or Commit, whose status then carries
  // its error (PostgreSQL: the turn's writes travel in one round trip).
  virtual bool Step() = 0;
  // Resets for the next use (clears bindings).
  virtual void Reset() = 0;
  virtual std::string_view ColumnBlob(int i) = 0;
  virtual int64_t ColumnInt(int i) = 0;  // integers and booleans (1/0)
  // The error of the last Step, if any.
  virtual const Status& status() const = 0;
};

class Db {
 public:
  virtual ~Db() = default;
  virtual Dialect dialect() const = 0;
  // Runs `sql` (one or more statements, no parameters) now.
  virtual Status Exec(std::string_view sql) = 0;
  // Compiles `sql` into `*stmt` (replacing what it held).
  virtual Status Prepare(std::string_view sql, std::unique_ptr<Statement>* stmt) = 0;
  // Opens a transaction (writes after it are atomic with each other) / makes it durable; Commit only with
  // one open. A failed Commit has been rolled back.
  virtual Status Begin() = 0;
  virtual Status Commit() = 0;
  // Ends the open transaction (if any) without its changes; after a failure, so its own failure is moot.
  virtual void Rollback() = 0;
  // Whether a write can be made durable now (sqlite::Db::ProbeWrite): outside any transaction.
  virtual Status ProbeWrite(int64_t bytes) = 0;
  // The rows the last write statement changed (after it ran: deferred writes run first); -1 when they
  // failed (then so does the transaction's Commit).
  virtual int64_t Changes() = 0;
  // Whether the last failure means the database itself is damaged (SQLite: not a database, malformed).
  virtual bool Damaged() const = 0;
};

}  // namespace titan::sql
