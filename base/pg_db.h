// The PostgreSQL backend of base/sql_db.h, over libpq. Calls block the calling thread for the round trips
// they need, except pipelined commits (below), which the broker's loop uses. Inside a
// transaction, writes are deferred: they queue in memory and travel with the next read or the COMMIT in
// one pipeline (libpq pipeline mode: one round trip per kPipelineChunk statements), so a turn that writes
// a thousand rows costs one round trip, not a thousand. Statements are prepared on the server once per
// distinct SQL text and reused. Results come back in binary format: blobs and text as their bytes.
// A failure names the server (its URI without the password), the statement and PostgreSQL's message;
// a full disk on the server (SQLSTATE 53100) carries ENOSPC, as SQLite's does.
//
// Pipelined commits (SetPipelining, the broker's loop): Commit then only SENDS the transaction (BEGIN,
// the prologue, its writes, COMMIT) on a non-blocking connection kept in pipeline mode, and returns; the
// caller learns the outcome later, per ticket, from Pump (the connection's socket() in its poll set).
// Transactions follow each other on the wire without a sync point, so PostgreSQL runs them in order and
// a failed one makes every later one fail unrun: what commits is always a prefix of what was sent. At
// most `max_in_flight` transactions are on their way; a Commit beyond that joins the next transaction,
// which is sent when one returns (group commit: one COMMIT for several callers' transactions). A read or
// any other call that needs an answer first waits for everything sent before it (Drain). After a failed
// pipelined commit every later Commit fails with the same error: nothing after a hole is committed.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
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

  // Pipelined commits (see the top of this file). `max_in_flight` 0: off, Commit waits for its answer
  // (the default); n > 0: at most n transactions sent and unanswered. Call outside any transaction.
  void SetPipelining(int max_in_flight);
  bool pipelining() const { return max_in_flight_ > 0; }
  // The ticket of the transaction the last Commit sent or joined, once (nullopt: that Commit had nothing
  // to commit). Tickets grow by one per Commit that has one; outcomes come in ticket order.
  std::optional<uint64_t> TakeTicket() { return std::exchange(ticket_, std::nullopt); }
  struct Outcome {
    uint64_t ticket = 0;
    Status status = Status::Ok();  // Ok: committed. An error: not committed, nor anything after it
    int64_t sent_us = 0;           // metrics::MonoUs() when its transaction was sent
  };
  // Reads what the server has answered without blocking, sends a waiting transaction when one slot is
  // free, and appends the outcomes now known (those Drain learned too), in ticket order.
  void Pump(std::vector<Outcome>* out);
  // Blocks until at least one more outcome is known (Pump then returns it); returns at once when no
  // ticket is awaited.
  void AwaitOne();
  // Whether tickets are awaited (sent, or waiting to be sent): then poll socket() for POLLIN, and for
  // POLLOUT when wants_write() (the connection holds bytes the kernel did not take yet).
  bool awaiting() const { return !inflight_.empty() || !batch_.empty(); }
  bool wants_write() const { return wants_write_; }
  int socket() const { return PQsocket(conn_); }

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

  // A statement sent in the pipeline whose results are still to be read (pipelined commits).
  struct Pending {
    std::string what;               // its SQL, for errors
    bool commit = false;            // the COMMIT ending a transaction: its outcome is the tickets'
    std::vector<uint64_t> tickets;  // (commit) the Commits it makes durable
    int64_t sent_us = 0;
    Status failed = Status::Ok();  // (commit) a statement of its transaction that already failed, run earlier
  };
  // Pipelined commits (pg_pipeline.cc). Commit's: the caller's transaction joins batch_ (its ticket),
  // sent now when a slot is free.
  Status CommitPipelined();
  // Sends the waiting transaction (batch_), entering pipeline mode if needed.
  void SendBatch();
  // Sends `op` (preparing its statement first when the server does not have it yet: *parsed true). False:
  // libpq could not queue it.
  bool SendOp(const Op& op, bool* parsed);
  // Every answer read (blocking), then the connection out of pipeline mode and blocking again.
  void Quiet();
  // Reads the results available (`block`: waiting for the server until every sent statement answered).
  void Receive(bool block);
  void OnResult(PGresult* r);  // one result of inflight_.front()
  void OnEnd();                // inflight_.front() answered whole
  // Every ticket awaited fails with `s` (the connection broke, or a send failed).
  void FailAll(const Status& s);
  // Before a call that needs an answer: the waiting transaction sent (unless the caller's own is open:
  // then it carries it), every answer read, and the connection back in ordinary (blocking) mode.
  void Drain();
  void FailTickets(std::vector<uint64_t> tickets, const Status& s, int64_t sent_us);

  PGconn* conn_ = nullptr;
  std::string uri_;
  int max_in_flight_ = 0;      // SetPipelining
  bool piped_ = false;         // the connection is in pipeline (and non-blocking) mode
  bool wants_write_ = false;   // PQflush left bytes to send
  int commits_in_flight_ = 0;  // COMMITs in inflight_
  std::deque<Pending> inflight_;
  std::vector<uint64_t> batch_;      // Commits whose writes (in deferred_) wait for a free slot
  size_t turn_start_ = 0;            // deferred_.size() when the caller's transaction began
  bool turn_sent_ = false;           // ... and since then a read sent its writes to the server
  Status txn_error_ = Status::Ok();  // a statement of the waiting transaction that failed when run earlier
  uint64_t tickets_ = 0;
  std::optional<uint64_t> ticket_;
  Status batch_error_ = Status::Ok();  // the first error of the transaction being read back
  Status failure_ = Status::Ok();      // a pipelined commit failed: every later Commit fails so
  bool aborted_ = false;               // an error came back in the pipeline: ROLLBACK once out of it
  std::vector<Outcome> done_;
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
