// BrokerCore: read-only mode, what the broker does while its disk is full. A turn whose commit fails
// for lack of space is rolled back (the last committed state is read back from the journal) and its
// requests are answered UNAVAILABLE; from then until a probe of the journal succeeds, the broker changes
// nothing it journals: state-changing requests are refused, reads are served from memory, workers stay
// alive, and what they report that would change journaled state waits until they register again.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {
namespace {

// Audit rows kept while read-only (a few hundred bytes each); past it they are counted, then logged.
constexpr size_t kMaxDeferredAudit = 10000;

std::optional<int64_t> RidOf(const Message& m) {
  return m.Has("rid") ? std::optional(m.Int("rid")) : std::nullopt;
}

// `s` (a failed journal write) naming the journal file, unless it names a file of the broker already.
Status NamingTheFile(const Status& s, const Journal& journal) {
  if (s.message().find(journal.dir()) != std::string::npos) return s;
  return s.Within("cannot write the journal '" + journal.path() + "'");
}

// Facts about a run's output that the journal may not hold yet and a reload must keep: output already
// lost (its job.log_truncated, journaled with the run's next change) and the next log chunk expected.
struct LogFacts {
  std::string id;
  int64_t run = 0, attempt = 0, next_log_seq = 0;
  bool truncated = false;
};

}  // namespace

Status BrokerCore::EndTurn(Instant now) {
  if (read_only_.active() && !audit_owed_.empty()) DeferAudit(std::exchange(audit_owed_, {}));
  if (!space_failure_.ok()) {  // part of the turn never reached the journal: none of it may
    journal_->Rollback();
    owed_.clear();
    const Status failure = NamingTheFile(std::exchange(space_failure_, Status::Ok()), *journal_);
    return RollBack(failure, std::exchange(audit_owed_, {}), now);
  }
  const Status committed = CommitTurn();  // a failure leaves the turn's audit rows in audit_owed_
  if (committed.ok() || !IsOutOfSpace(committed)) return committed;
  return RollBack(NamingTheFile(committed, *journal_), std::exchange(audit_owed_, {}), now);
}

void BrokerCore::JournalFailed(const Status& s) {
  if (IsOutOfSpace(s) && space_failure_.ok()) space_failure_ = s;
}

Status BrokerCore::RollBack(const Status& failure, std::vector<wire::AuditEntry> audit, Instant now) {
  EnterReadOnly(failure, now);
  const Message refusal = wire::MakeError(ErrorCode::kUnavailable, read_only_.Refusal());
  std::vector<Outgoing> told;  // the turn's replies, and every JOB_WAIT the reload forgets, refused
  for (const Outgoing& o : outbox_) {
    if (o.kind == Outgoing::kClient)
      told.push_back(Outgoing{Outgoing::kClient, o.route, {}, {}, WithRid(refusal, RidOf(o.msg))});
  }
  for (const auto& [key, w] : waiters_)
    told.push_back(Outgoing{Outgoing::kClient, w.route, {}, {}, WithRid(refusal, w.rid)});
  std::vector<LogFacts> logs;
  for (const auto& [id, job] : jobs_) {
    if (job.log_truncated || job.next_log_seq > 0)
      logs.push_back({id, job.run, job.attempt, job.next_log_seq, job.log_truncated});
  }
  // The turn's requests are answered UNAVAILABLE now, and their rows say so; a refusal keeps its code,
  // and a key change (KEY_*: not a request) happened whatever became of the turn.
  for (wire::AuditEntry& row : audit) {
    if (row.outcome == "ok" && row.action.rfind("KEY_", 0) != 0) row.outcome = "UNAVAILABLE";
  }
  ReadOnlyMode mode = std::move(read_only_);
  std::vector<wire::AuditEntry> deferred = std::move(deferred_audit_);
  const int64_t dropped = dropped_audit_, malformed = malformed_from_workers_, refused = refused_transitions_,
                evicted = evicted_;
  BrokerMetrics metrics =
      std::move(metrics_);  // counters of this life: a restart would reset them, a rollback not
  const int64_t started = start_wall_ms_;

  *this = BrokerCore(config_, journal_, logs_, artifacts_);  // what is not journaled is gone, as in a restart
  read_only_ = std::move(mode);                              // first: recovery must not write either
  deferred_audit_ = std::move(deferred);
  dropped_audit_ = dropped;
  malformed_from_workers_ = malformed;
  refused_transitions_ = refused;
  evicted_ = evicted;
  metrics_ = std::move(metrics);
  start_wall_ms_ = started;
  if (Status s = Recover(now); !s.ok()) return s.Within("cannot read the journal back to roll a turn back");
  for (const LogFacts& f : logs) {
    Job* job = FindRun(f.id, f.run);
    if (job == nullptr || job->attempt != f.attempt) continue;
    job->log_truncated = job->log_truncated || f.truncated;
    job->next_log_seq = f.next_log_seq;
  }
  DeferAudit(std::move(audit));
  spdlog::warn(
      "broker: a turn could not be committed ({}); it was rolled back to the journal's last state, its {} "
      "replies and waits answered UNAVAILABLE; workers register again",
      failure.message(), told.size());
  outbox_ = std::move(told);
  timers_.push(Timer{now.mono_ms + ReadOnlyMode::kProbeEveryMs, TimerKind::kSpaceProbe, {}});
  return Status::Ok();
}

void BrokerCore::CheckSpace(Instant now) {
  Status s = journal_->ProbeSpace();
  if (s.ok()) s = logs_->ProbeSpace();
  if (IsOutOfSpace(s)) {
    EnterReadOnly(s, now);
  } else if (!s.ok()) {
    spdlog::warn("broker: the journal's space probe failed: {}", s.message());
  }
}

void BrokerCore::EnterReadOnly(const Status& cause, Instant now) {
  if (read_only_.active()) return;
  const std::string line = read_only_.Enter(cause, journal_->dir(), now.mono_ms, now.wall_ms);
  if (!line.empty()) spdlog::error("{}", line);
  timers_.push(Timer{now.mono_ms + ReadOnlyMode::kProbeEveryMs, TimerKind::kSpaceProbe, {}});
}

void BrokerCore::ProbeSpace(Instant now) {
  if (!read_only_.active()) return;
  Status s = journal_->ProbeSpace();
  if (s.ok()) s = logs_->ProbeSpace();
  if (s.ok()) return LeaveReadOnly(now);
  if (!IsOutOfSpace(s)) spdlog::debug("broker: space probe: {}", s.message());
  timers_.push(Timer{now.mono_ms + ReadOnlyMode::kProbeEveryMs, TimerKind::kSpaceProbe, {}});
}

void BrokerCore::LeaveReadOnly(Instant now) {
  const std::string line = read_only_.Leave(now.mono_ms);
  if (!line.empty()) spdlog::info("{}", line);
  for (Timer t : deferred_timers_) {  // due now: they fired while the journal could not be written
    t.at = now.mono_ms;
    timers_.push(std::move(t));
  }
  deferred_timers_.clear();
  for (const std::string& name : resync_) {
    if (auto w = workers_.find(name); w != workers_.end()) {
      SendWorker(w->second, wire::DisconnectMsg{.reason = "the broker can write its journal again; send "
                                                          "WORKER_READY with your runs and results"}
                                .ToMessage());
    }
  }
  resync_.clear();
  audit_owed_.insert(audit_owed_.begin(), std::make_move_iterator(deferred_audit_.begin()),
                     std::make_move_iterator(deferred_audit_.end()));
  deferred_audit_.clear();
  if (dropped_audit_ > 0) {
    spdlog::error("broker: {} audit log rows of requests refused while the disk was full were lost (over {})",
                  dropped_audit_, kMaxDeferredAudit);
    dropped_audit_ = 0;
  }
}

bool BrokerCore::DeferWhileReadOnly(const Timer& t) {
  switch (t.kind) {
    case TimerKind::kWaiter:  // a reply with the job as it is
    case TimerKind::kHeartbeat:
    case TimerKind::kSpaceProbe:
      return false;
    case TimerKind::kRecovery:  // one is enough: it requeues every run whose worker is missing
      if (std::any_of(deferred_timers_.begin(), deferred_timers_.end(),
                      [](const Timer& d) { return d.kind == TimerKind::kRecovery; }))
        return true;
      break;
    default:
      break;
  }
  deferred_timers_.push_back(t);
  return true;
}

void BrokerCore::ResyncLater(const Worker& w) { resync_.insert(w.name); }

void BrokerCore::LogLost(Job& job, const Status& why, Instant now) {
  if (!job.log_truncated)
    spdlog::warn("broker: job {}: some of its output was not stored: {}", job.id, why.message());
  job.log_truncated = true;
  if (IsOutOfSpace(why)) EnterReadOnly(why, now);
  if (!read_only_.active()) Record(job);  // else journaled with the run's next change, once writable
}

void BrokerCore::DeferAudit(std::vector<wire::AuditEntry> rows) {
  for (wire::AuditEntry& row : rows) {
    if (deferred_audit_.size() < kMaxDeferredAudit) {
      deferred_audit_.push_back(std::move(row));
    } else {
      ++dropped_audit_;
    }
  }
}

}  // namespace titan::broker
