// The PostgreSQL backend of base/sql_db.h, over libpq. Calls block the calling thread for the round trips
// they need (the node's loop turn waits for its journal, as it waits for SQLite's fsync). Inside a
// transaction, writes are deferred: they queue in memory and travel with the next read or the COMMIT in
// one pipeline (libpq pipeline mode: one round trip per kPipelineChunk statements), so a turn that writes
// a thousand rows costs one round trip, not a thousand. Statements are prepared on the server once per
// distinct SQL text and reused. Results come back in binary format: blobs and text as their bytes.
// A failure names the server (its URI without the password), the statement and PostgreSQL's message;
// a full disk on the server (SQLSTATE 53100) carries ENOSPC, as SQLite's does.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/sql_db.h"
#include "base/status.h"

namespace titan::pg {

// Whether `target` names a PostgreSQL server (a postgresql:// or postgres:// URI) rather than a file.
bool IsUri(std::string_view target);
// `uri` with its password (user:password@ or password=...) replaced by "***": safe for logs and errors.
std::string Redacted(const std::string& uri);

class Statement;

class Db final : public sql::Db {
 public:
  // Statements sent in one pipeline before their results are read.
  static constexpr size_t kPipelineChunk = 512;

  ~Db() override;
  // Connects to `uri` (anything libpq accepts: postgresql://h1,h2/db?target_session_attrs=read-write).
  // The error says which server could not be reached, libpq's reason, and what to check.
  static Result<std::unique_ptr<Db>> Connect(const std::string& uri);

  sql::Dialect dialect() const override { return sql::Dialect::kPostgres; }
  Status Exec(std::string_view sql) override;
  Status Prepare(std::string_view sql, std::unique_ptr<sql::Statement>* stmt) override;
  Status Begin() override;
  Status Commit() override;
  void Rollback() override;
  Status ProbeWrite(int64_t bytes) override;
  int64_t Changes() override;
  bool Damaged() const override { return false; }
  // Every transaction from now on begins with `sql` (one ?1 parameter, `arg`), sent right after BEGIN in
  // the same pipeline: a fence (journal_pg.cc: the lease's epoch check) whose failure fails the whole
  // transaction, its COMMIT included.
  void SetPrologue(std::string sql, int64_t arg);
  const std::string& uri() const { return uri_; }  // redacted

 private:
  friend class Statement;
  // One statement of a pipeline: a deferred write (its parameters copied), or the read that ends it.
  struct Op {
    std::string sql;                    // BEGIN / COMMIT (no name), or a statement's text
    const std::string* name = nullptr;  // the server-side prepared statement, when not BEGIN/COMMIT
    std::vector<std::string> values;
    std::vector<char> null;
    std::vector<int> formats;
    Statement* read = nullptr;  // gets the result (a read)
  };
  Db() = default;
  // Queues a write of `stmt` (inside a transaction).
  void Defer(Statement& stmt);
  // Sends what is deferred (after BEGIN, when the transaction has not begun on the server yet), then
  // `last` (a read, or COMMIT), and reads every result back. The first failure is returned.
  Status Run(Op* last);
  Status RunChunk(std::vector<Op*>& ops);
  Status Failure(const std::string& what, const PGresult* result) const;
  // The server-side name of `sql`, prepared on first use.
  const std::string& NameOf(const std::string& sql);

  PGconn* conn_ = nullptr;
  std::string uri_;
  bool in_txn_ = false;  // Begin was called
  bool begun_ = false;   // ... and BEGIN has been sent
  std::vector<Op> deferred_;
  int64_t changes_ = 0;
  PGresult* commit_result_ = nullptr;  // the COMMIT's, for its command tag
  // SQL text -> its prepared statement's name; `prepared_` names those the server has.
  std::unordered_map<std::string, std::string> names_;
  std::unordered_map<std::string, bool> prepared_;
  bool forget_prepared_ = false;  // after a failure: DEALLOCATE ALL before the next pipeline
  std::string prologue_sql_;      // SetPrologue's; empty: none
  int64_t prologue_arg_ = 0;
};

class Statement final : public sql::Statement {
 public:
  ~Statement() override;
  Statement& Bind(int i, std::string_view blob) override;
  Statement& Bind(int i, int64_t v) override;
  bool Step() override;
  void Reset() override;
  std::string_view ColumnBlob(int i) override;
  int64_t ColumnInt(int i) override;
  const Status& status() const override { return status_; }

 private:
  friend class Db;
  Statement(Db* db, std::string sql, int params, bool write);
  Db* db_;
  std::string sql_;
  bool write_;  // INSERT, UPDATE or DELETE: deferred inside a transaction
  std::vector<std::string> values_;
  std::vector<char> null_;
  std::vector<int> formats_;  // 1: binary (blobs), 0: text (integers)
  PGresult* result_ = nullptr;
  int row_ = -1;
  Status status_ = Status::Ok();
};

}  // namespace titan::pg
