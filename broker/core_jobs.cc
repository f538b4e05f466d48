// BrokerCore: the job lifecycle. Every state change goes through Transition (checked against the
// table of legal steps, journaled at the end of the turn, published); the steps of the lifecycle
// (ready, queued, assigned, finished, failed and retried, requeued) are the small actions below.
#include <spdlog/spdlog.h>

#include <cassert>

#include "base/backoff.h"
#include "base/log_format.h"
#include "broker/broker_core.h"

namespace titan::broker {

constexpr int64_t kFirstRetryMs = 500;  // a failed job's first retry waits this long
constexpr int64_t kMaxRetryMs = 30000;  // ... doubling up to this

BrokerCore::BrokerCore(CoreConfig config, Journal* journal, LogStore* logs, ArtifactService* artifacts)
    : config_(std::move(config)), journal_(journal), logs_(logs), artifacts_(artifacts) {}

void BrokerCore::Record(Job& job) {
  if (job.journal_owed != Job::Owed::kNothing) return;  // already owed: written with its state at commit
  job.journal_owed = Job::Owed::kUpdate;
  owed_.push_back(job.id);
}

Status BrokerCore::CommitTurn() {
  const auto rows = static_cast<int64_t>(owed_.size() + audit_owed_.size());
  const Status written = WriteOwed();
  owed_.clear();
  if (!written.ok()) {
    journal_->Rollback();
    return written;  // the audit rows stay: a rolled-back turn records them as refused
  }
  const bool open = journal_->dirty();  // else there is nothing to commit
  const Status committed = journal_->Commit();
  if (committed.ok()) audit_owed_.clear();
  if (committed.ok() && open) commit_rows_ = rows;
  return committed;
}

Status BrokerCore::WriteOwed() {
  if (owed_.empty() && audit_owed_.empty()) return Status::Ok();
  if (Status s = journal_->BeginIfNeeded(); !s.ok()) return s;
  for (const std::string& id : owed_) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) continue;
    Job& job = it->second;
    Status s = job.journal_owed == Job::Owed::kInsert ? journal_->InsertJob(job) : journal_->UpdateJob(job);
    job.journal_owed = Job::Owed::kNothing;
    if (!s.ok()) return s;
  }
  for (const wire::AuditEntry& row : audit_owed_) {
    if (Status s = journal_->audit().Append(row); !s.ok()) return s;
  }
  return Status::Ok();
}

void BrokerCore::Publish(const Job& job, Instant now) {
  wire::EventJobMsg event{.id = job.id,
                          .state = StateName(job.state),
                          .attempt = RunAttempt(job),
                          .exit_code = job.exit_code,
                          .ts_ms = now.wall_ms};
  if (!job.worker.empty()) event.worker = job.worker;
  if (!job.reason.empty()) event.reason = job.reason;
  outbox_.push_back(Outgoing{Outgoing::kEvent, {}, {}, "job." + job.id, std::move(event).ToMessage()});
}

bool BrokerCore::Allowed(const Job& job, JobState to) {
  if (CanTransition(job.state, to)) return true;
  const LogScope ids({{"job", job.id}});
  // Our own bug, never a peer's: every message is checked against the job's state before it moves it.
  ++refused_transitions_;
  spdlog::error(
      "broker: job {} run {}: refused the illegal transition {} -> {}; it stays {} (a broker bug: "
      "please report it with this line)",
      job.id, job.run, StateName(job.state), StateName(to), StateName(job.state));
  assert(false && "illegal job state transition (see the log line above)");
  return false;
}

bool BrokerCore::Transition(Job& job, JobState state, Instant now) {
  if (!Allowed(job, state)) return false;
  const JobState from = job.state;
  job.state = state;
  Count(job, from, state, now);
  CountTransition(job, from, state, now);
  if (state != JobState::kRunning) job.ready = false;
  if (state == JobState::kQueued) job.queued_at = now.mono_ms;
  Record(job);
  Publish(job, now);
  if (IsFinal(state)) WakeWaiters(job);
  return true;
}

void BrokerCore::WakeWaiters(const Job& job) {
  auto [begin, end] = waiters_by_job_.equal_range(job.id);
  for (auto it = begin; it != end; ++it) {
    auto w = waiters_.find(it->second);
    if (w == waiters_.end()) continue;
    Reply(w->second.route, w->second.rid, JobInfoReply(job.id));
    waiters_.erase(w);
  }
  waiters_by_job_.erase(job.id);
}

void BrokerCore::MakeReady(Job& job, Instant now, bool apply_delay) {
  if (job.gate) return OpenGate(job, now);
  if (apply_delay && job.delay_ms > 0) {
    job.reason = "delayed " + std::to_string(job.delay_ms) + " ms";
    if (Transition(job, JobState::kScheduled, now))
      timers_.push(Timer{AddMs(now.mono_ms, job.delay_ms), TimerKind::kReady, job.id, job.run});
    return;
  }
  Enqueue(job, now);
}

void BrokerCore::Enqueue(Job& job, Instant now) {
  job.reason.clear();
  if (Transition(job, JobState::kQueued, now))
    ready_[job.requirement].insert(QueueKey{-job.priority, job.seq, job.id});
}

void BrokerCore::Assign(Job& job, Worker& w, Instant now) {
  if (!Allowed(job, JobState::kRunning)) return;
  ++job.attempt;
  job.epoch = journal_->lease_epoch();  // journaled with the attempt: its reports must carry it (reconcile.h)
  job.worker = w.name;
  job.started_ms = now.wall_ms;
  job.finished_ms = 0;
  job.exit_code.reset();
  job.reason.clear();
  job.next_log_seq = 0;
  job.restarts_before = job.restarts;
  job.pid = job.replaced_pid = 0;
  w.running.insert(job.id);
  w.idle_since = 0;
  job.passed = 0;
  job.up_since_ms = now.wall_ms;
  if (RunAttempt(job) > 1) {
    const std::string banner =
        "--- titan: attempt " + std::to_string(RunAttempt(job)) + " on " + w.name + " ---\n";
    const Result<int64_t> at = logs_->Append(LogName(job), banner);
    if (at.ok()) job.log_size = *at + static_cast<int64_t>(banner.size());
  }
  if (Transition(job, JobState::kRunning, now)) CountStarted(job);
  auto file = files_.find(job.file_hash);
  wire::JobAssignMsg assign{.job = job.spec,
                            .attempt = job.attempt,
                            .file_sha256 = job.file_hash,
                            .file_size = job.file_hash.empty()   ? 0  // a command job: no file
                                         : file != files_.end()  ? static_cast<int64_t>(file->second->size())
                                         : artifacts_ != nullptr ? artifacts_->BlobSize(job.file_hash)
                                                                 : -1};
  if (InDag(job)) assign.shared_workdir = true;
  if (job.first_attempt > 1) assign.first_attempt = job.first_attempt;
  if (job.epoch > 0) assign.epoch = job.epoch;
  SendWorker(w, std::move(assign).ToMessage());
}

void BrokerCore::Finish(Job& job, JobState state, std::string reason, Instant now) {
  if (!Allowed(job, state)) return;
  job.reason = std::move(reason);
  job.finished_ms = now.wall_ms;
  (void)Transition(job, state, now);
  if (job.released) return;  // a service whose children stopped waiting for it when it became ready
  if (state == JobState::kCompleted) {
    ReleaseChildren(job, now);
  } else {
    SkipDescendants(job, now);
  }
}

void BrokerCore::ReleaseChildren(Job& job, Instant now) {
  job.released = job.service;
  for (const auto& [child_id, child_run] : job.children) {
    Job* child = FindRun(child_id, child_run);
    if (child == nullptr || child->state != JobState::kBlocked) continue;
    if (--child->unmet_parents == 0) MakeReady(*child, now, true);
  }
}

void BrokerCore::SkipDescendants(const Job& job, Instant now) {
  for (const auto& [child_id, child_run] : job.children) {
    Job* child = FindRun(child_id, child_run);
    // Only a child still waiting for its parents: one released already (by a service that was ready)
    // runs on, and a final one stays as it ended.
    if (child == nullptr || (child->state != JobState::kBlocked && child->state != JobState::kPending))
      continue;
    Finish(*child, JobState::kSkipped, "parent " + job.id + " ended " + StateName(job.state), now);
  }
}

void BrokerCore::Fail(Job& job, std::string reason, Instant now) {
  const int64_t attempt = RunAttempt(job);
  if (attempt <= job.retries) {
    const int64_t backoff = BackoffMs(attempt, kFirstRetryMs, kMaxRetryMs);
    job.reason = reason + "; retry " + std::to_string(attempt) + " of " + std::to_string(job.retries) +
                 " in " + std::to_string(backoff) + " ms";
    if (Transition(job, JobState::kScheduled, now))
      timers_.push(Timer{now.mono_ms + backoff, TimerKind::kReady, job.id, job.run});
    return;
  }
  if (job.retries > 0) {
    Finish(job, JobState::kDead, reason + " (all " + std::to_string(attempt) + " attempts failed)", now);
  } else {
    Finish(job, JobState::kFailed, std::move(reason), now);
  }
}

void BrokerCore::Requeue(Job& job, std::string reason, Instant now, bool count_loss) {
  if (count_loss) ++job.lost;
  if (count_loss && job.lost >= config_.max_lost) {
    Finish(job, JobState::kDead, reason + " (its worker was lost " + std::to_string(job.lost) + " times)",
           now);
    return;
  }
  job.reason = reason + "; requeued";
  if (Transition(job, JobState::kQueued, now))
    ready_[job.requirement].insert(QueueKey{-job.priority, job.seq, job.id});
}

void BrokerCore::LoseRun(Job& job, const std::string& why, Instant now, bool count_loss) {
  if (job.stop_requested) {  // the stop was asked first: it wins, nothing runs the job again
    Finish(job, JobState::kCancelled, "stopped by request; " + why + " before it confirmed the stop", now);
    return;
  }
  if (job.spec.on_worker_lost == "fail") {
    Finish(job, JobState::kFailed, why + "; worker lost; not retried by request (on_worker_lost \"fail\")",
           now);
    return;
  }
  Requeue(job, why, now, count_loss);
}

}  // namespace titan::broker
