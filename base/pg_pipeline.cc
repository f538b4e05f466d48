// PostgreSQL's pipelined commits (base/pg_db.h, "Pipelined commits"): transactions sent without waiting,
// their outcomes read back as the server answers, in order, by ticket.
#include <poll.h>

#include <chrono>
#include <cstring>

#include "base/pg_db.h"

namespace titan::pg {
namespace {

int64_t MonoUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Db::SetPipelining(int max_in_flight) {
  if (max_in_flight <= 0) Drain();
  max_in_flight_ = max_in_flight > 0 ? max_in_flight : 0;
}

Status Db::CommitPipelined() {
  in_txn_ = false;
  if (!failure_.ok()) {  // after a hole nothing may commit
    Rollback();
    return failure_;
  }
  if (!begun_ && deferred_.empty()) return Status::Ok();  // nothing written, nothing waiting: no ticket
  batch_.push_back(++tickets_);
  ticket_ = tickets_;
  if (commits_in_flight_ < max_in_flight_) SendBatch();
  return Status::Ok();
}

void Db::FailTickets(std::vector<uint64_t> tickets, const Status& s, int64_t sent_us) {
  for (uint64_t t : tickets) done_.push_back(Outcome{.ticket = t, .status = s, .sent_us = sent_us});
}

void Db::FailAll(const Status& s) {
  if (failure_.ok()) failure_ = s;
  for (Pending& p : inflight_) {
    if (p.commit) FailTickets(std::move(p.tickets), failure_, p.sent_us);
  }
  inflight_.clear();
  commits_in_flight_ = 0;
  FailTickets(std::exchange(batch_, {}), failure_, 0);
  deferred_.clear();
  wants_write_ = false;
}

void Db::SendBatch() {
  if (batch_.empty()) return;
  if (!failure_.ok()) {
    FailTickets(std::exchange(batch_, {}), failure_, 0);
    deferred_.clear();
    return;
  }
  if (forget_prepared_ && !begun_) {  // a statement failed since: the server may lack what we prepared
    Quiet();
    PQclear(PQexec(conn_, "DEALLOCATE ALL"));
    prepared_.clear();
    forget_prepared_ = false;
  }
  if (!piped_) {
    if (PQenterPipelineMode(conn_) != 1 || PQsetnonblocking(conn_, 1) != 0)
      return FailAll(Failure("(entering pipeline mode)", nullptr));
    piped_ = true;
  }
  Op begin{.sql = "BEGIN"};
  Op prologue;
  Op commit{.sql = "COMMIT"};
  std::vector<const Op*> ops;
  if (!begun_) {
    ops.push_back(&begin);
    if (!prologue_sql_.empty()) {
      prologue =
          Op{.sql = prologue_sql_, .values = {std::to_string(prologue_arg_)}, .null = {0}, .formats = {0}};
      prologue.name = &NameOf(prologue.sql);
      ops.push_back(&prologue);
    }
  }
  for (const Op& op : deferred_) ops.push_back(&op);
  ops.push_back(&commit);
  const int64_t sent_us = MonoUs();
  for (const Op* op : ops) {
    bool parsed = false;
    const bool sent = SendOp(*op, &parsed);
    if (parsed) inflight_.push_back(Pending{.what = op->sql.substr(0, 60)});
    if (!sent) return FailAll(Failure(op->sql, nullptr));
    inflight_.push_back(Pending{.what = op->sql.substr(0, 60)});
  }
  inflight_.back().commit = true;
  inflight_.back().tickets = std::exchange(batch_, {});
  inflight_.back().sent_us = sent_us;
  inflight_.back().failed = std::exchange(txn_error_, Status::Ok());
  ++commits_in_flight_;
  deferred_.clear();
  begun_ = false;
  // The server sends its answers when asked to flush (or at a sync point, which would end the chain).
  if (PQsendFlushRequest(conn_) != 1) return FailAll(Failure("(flush request)", nullptr));
  const int flushed = PQflush(conn_);
  if (flushed < 0) return FailAll(Failure("(sending)", nullptr));
  wants_write_ = flushed == 1;
}

void Db::OnResult(PGresult* r) {
  const ExecStatusType st = PQresultStatus(r);
  const Pending& p = inflight_.front();
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    const char* tag = PQcmdStatus(r);
    if (p.commit && (tag == nullptr || std::strcmp(tag, "COMMIT") != 0) && batch_error_.ok())
      batch_error_ = Status::Error("PostgreSQL " + uri_ + ": the transaction had failed and was rolled back");
  } else {
    aborted_ = true;
    if (batch_error_.ok()) {
      batch_error_ =
          st == PGRES_PIPELINE_ABORTED
              ? Status::Error("PostgreSQL " + uri_ +
                              ": not run, a transaction sent before it failed (in: " + p.what + ")")
              : Failure(p.what, r);
    }
  }
  PQclear(r);
}

void Db::OnEnd() {
  Pending p = std::move(inflight_.front());
  inflight_.pop_front();
  if (!p.commit) return;
  --commits_in_flight_;
  Status s = std::exchange(batch_error_, Status::Ok());
  if (!p.failed.ok()) s = p.failed;  // the first error of the transaction, not the COMMIT's echo of it
  if (!s.ok() && failure_.ok()) failure_ = s;
  if (s.ok() && !failure_.ok()) s = failure_;
  FailTickets(std::move(p.tickets), s, p.sent_us);  // (an Ok status: committed)
}

void Db::Receive(bool block) {
  if (!piped_) return;
  if (block) {
    // PQsetnonblocking(0) fails while bytes wait to be sent: send them all first.
    for (int flushed = PQflush(conn_); flushed != 0; flushed = PQflush(conn_)) {
      if (flushed < 0) return FailAll(Failure("(sending)", nullptr));
      pollfd p{.fd = PQsocket(conn_), .events = POLLIN | POLLOUT, .revents = 0};
      (void)::poll(&p, 1, 1000);  // EINTR or a timeout: try again
      if ((p.revents & POLLIN) != 0 && PQconsumeInput(conn_) == 0)
        return FailAll(Failure("(receiving)", nullptr));
    }
    if (PQsetnonblocking(conn_, 0) != 0) return FailAll(Failure("(sending)", nullptr));
    wants_write_ = false;
  } else {
    const int flushed = PQflush(conn_);
    if (flushed < 0) return FailAll(Failure("(sending)", nullptr));
    wants_write_ = flushed == 1;
    if (PQconsumeInput(conn_) == 0) return FailAll(Failure("(receiving)", nullptr));
  }
  while (!inflight_.empty()) {
    if (!block && PQisBusy(conn_)) break;
    PGresult* r = PQgetResult(conn_);
    if (r != nullptr) {
      OnResult(r);
      continue;
    }
    if (PQstatus(conn_) != CONNECTION_OK) return FailAll(Failure(inflight_.front().what, nullptr));
    OnEnd();
  }
}

void Db::Quiet() {
  if (!piped_) return;
  Receive(/*block=*/true);
  if (PQstatus(conn_) == CONNECTION_OK) {
    (void)PQsetnonblocking(conn_, 0);
    if (PQpipelineSync(conn_) == 1) {
      while (PGresult* r = PQgetResult(conn_)) {
        const bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
        PQclear(r);
        if (sync) break;
      }
    }
    PQexitPipelineMode(conn_);
  }
  piped_ = false;
  wants_write_ = false;
  if (aborted_ && PQstatus(conn_) == CONNECTION_OK) {  // the failed transaction is still open, aborted
    PQclear(PQexec(conn_, "ROLLBACK"));
    forget_prepared_ = true;  // a PREPARE skipped after the failure is marked prepared all the same
  }
  aborted_ = false;
}

void Db::Drain() {
  if (!in_txn_ && !batch_.empty()) SendBatch();
  Quiet();
}

void Db::Pump(std::vector<Outcome>* out) {
  Receive(/*block=*/false);
  if (commits_in_flight_ < max_in_flight_ && !in_txn_) SendBatch();
  for (Outcome& o : done_) out->push_back(std::move(o));
  done_.clear();
}

void Db::AwaitOne() {
  const size_t known = done_.size();
  if (commits_in_flight_ == 0 && !in_txn_) SendBatch();
  while (done_.size() == known && !inflight_.empty()) {
    Receive(/*block=*/false);
    if (done_.size() != known || inflight_.empty()) break;
    pollfd p{.fd = PQsocket(conn_),
             .events = static_cast<short>(POLLIN | (wants_write_ ? POLLOUT : 0)),
             .revents = 0};
    (void)::poll(&p, 1, 1000);  // EINTR or a timeout: look again
  }
}

}  // namespace titan::pg
