// BrokerCore: timers. One min-heap of monotonic deadlines; OnTick fires the due ones, each kind by
// its own small step, then dispatches. Deadlines kept in wall time (a gate's expiry, a cron tick)
// enter the heap through ArmWallTimer and are checked against the wall clock when they fire.
#include <spdlog/spdlog.h>

#include "broker/broker_core.h"

namespace titan::broker {

void BrokerCore::OnTick(Instant now) {
  DiscountStall(now);
  if (config_.scaling.max_children > 0 && now.mono_ms >= next_scale_check_) Autoscale(now);
  if (artifacts_ != nullptr && upload_deadline_ > 0 && now.mono_ms >= upload_deadline_)
    upload_deadline_ = artifacts_->Expire(now.mono_ms);
  while (!timers_.empty() && timers_.top().at <= now.mono_ms) {
    const Timer t = timers_.top();
    timers_.pop();
    FireTimer(t, now);
  }
  Dispatch(now);
  Retain(now);
}

int64_t BrokerCore::NextDeadline() const {
  if (dispatch_pending_ || retain_pending_) return 0;
  int64_t next = timers_.empty() ? INT64_MAX : timers_.top().at;
  if (upload_deadline_ > 0) next = std::min(next, upload_deadline_);
  if (config_.scaling.max_children > 0) next = std::min(next, next_scale_check_);
  if (config_.retain_finished_ms > 0 && !finished_.empty())
    next = std::min(next, AddMs(finished_.front().at, config_.retain_finished_ms));
  return next;
}

void BrokerCore::FireTimer(const Timer& t, Instant now) {
  if (read_only_.active() && DeferWhileReadOnly(t)) return;
  switch (t.kind) {
    case TimerKind::kReady: {  // a delay or a retry backoff ended
      Job* job = FindRun(t.key, t.run);
      if (job != nullptr && job->state == JobState::kScheduled) Enqueue(*job, now);
      return;
    }
    case TimerKind::kWaiter:
      return ExpireWaiter(t.run);
    case TimerKind::kRecovery:
      return EndRecoveryGrace(now);
    case TimerKind::kGateExpiry:
      return ExpireGate(t, now);
    case TimerKind::kSchedule: {
      auto it = schedules_.find(t.key);
      // Removed, or armed again since (a newer timer stands for its next tick).
      if (it == schedules_.end() || it->second.next_ms != t.wall || !it->second.enabled) return;
      if (WallDue(t, now)) FireSchedule(it->second, now);
      return;
    }
    case TimerKind::kHeartbeat:
      return CheckHeartbeats(now);
    case TimerKind::kAuditPrune:
      return PruneAudit(now);
    case TimerKind::kJournalPrune:
      return PruneJournal(now);
    case TimerKind::kSpaceProbe:
      return ProbeSpace(now);
  }
}

void BrokerCore::ArmWallTimer(TimerKind kind, std::string key, int64_t run, int64_t wall_deadline,
                              Instant now) {
  timers_.push(Timer{MonoAt(now, wall_deadline), kind, std::move(key), run, wall_deadline});
}

bool BrokerCore::WallDue(const Timer& t, Instant now) {
  if (now.wall_ms >= t.wall) return true;
  // The monotonic time is up but the wall clock has not reached the deadline: it was set back.
  spdlog::warn(
      "broker: {} '{}' was due now, but the wall clock is {} ms before its deadline (was the clock "
      "set back?); it waits for the wall clock",
      t.kind == TimerKind::kGateExpiry ? "the expiry of gate" : "the next tick of schedule", t.key,
      t.wall - now.wall_ms);
  ArmWallTimer(t.kind, t.key, t.run, t.wall, now);
  return false;
}

void BrokerCore::ExpireWaiter(int64_t key) {
  auto w = waiters_.find(key);
  if (w == waiters_.end()) return;  // answered when its job ended
  Reply(w->second.route, w->second.rid, JobInfoReply(w->second.job_id));
  auto [begin, end] = waiters_by_job_.equal_range(w->second.job_id);
  for (auto it = begin; it != end; ++it) {
    if (it->second == key) {
      waiters_by_job_.erase(it);
      break;
    }
  }
  waiters_.erase(w);
}

void BrokerCore::EndRecoveryGrace(Instant now) {
  for (auto& [id, job] : jobs_) {
    if (job.state == JobState::kRunning && !workers_.count(job.worker)) {
      LoseRun(job, "worker " + job.worker + " did not return after the broker restarted", now);
    }
  }
}

void BrokerCore::ExpireGate(const Timer& t, Instant now) {
  Job* gate = FindRun(t.key, t.run);
  if (gate == nullptr || gate->state != JobState::kWaitingApproval || !WallDue(t, now)) return;
  Finish(*gate, JobState::kFailed,
         "no decision within " + std::to_string(gate->max_wait_ms / 1000) + " s (max_wait_seconds)", now);
}

void BrokerCore::DiscountStall(Instant now) {
  const int64_t gap = last_tick_ > 0 ? now.mono_ms - last_tick_ : 0;
  last_tick_ = now.mono_ms;
  // The loop never sleeps past the next heartbeat check; a turn this much later means the broker was
  // not running (stopped, swapped out, a long turn). Workers could not be heard meanwhile.
  const int64_t expected = static_cast<int64_t>(config_.heartbeat_ms) * 3 / 2;
  if (gap <= expected || workers_.empty()) return;
  spdlog::warn(
      "broker: this turn began {} ms after the last one (the broker was not running: stopped, swapped "
      "out or overloaded); that time does not count against the liveness of its {} workers",
      gap, workers_.size());
  for (auto& [name, w] : workers_) w.last_seen = std::min(now.mono_ms, w.last_seen + gap);
}

void BrokerCore::CheckHeartbeats(Instant now) {
  const int64_t silent_limit = static_cast<int64_t>(config_.heartbeat_ms) * config_.liveness;
  std::vector<std::string> dead;
  for (auto& [name, w] : workers_) {
    if (now.mono_ms - w.last_seen > silent_limit) {
      dead.push_back(name);
    } else {
      SendWorker(w, wire::HeartbeatMsg{}.ToMessage());
      PublishWorker(w, "heartbeat", now);
    }
  }
  for (const auto& name : dead) {
    LoseWorker(name, "worker " + name + " missed " + std::to_string(config_.liveness) + " heartbeats", now);
  }
  timers_.push(Timer{now.mono_ms + config_.heartbeat_ms, TimerKind::kHeartbeat, {}});
}

void BrokerCore::PruneAudit(Instant now) {
  constexpr int64_t kAuditPruneEveryMs = 3600 * 1000;
  timers_.push(Timer{now.mono_ms + kAuditPruneEveryMs, TimerKind::kAuditPrune, {}});
  if (Status s = journal_->BeginIfNeeded(); !s.ok()) {
    spdlog::error("broker: cannot prune the audit log: {}", s.message());
    return;
  }
  const Result<int64_t> pruned = journal_->audit().Prune(now.wall_ms - config_.audit_retention_ms);
  if (!pruned.ok()) {
    spdlog::error("broker: {}", pruned.message());
    JournalFailed(pruned.status());
  } else if (*pruned > 0) {
    spdlog::info("broker: deleted {} audit log rows older than {} days (--audit-retention-days)", *pruned,
                 config_.audit_retention_ms / 86'400'000);
  }
}

}  // namespace titan::broker
