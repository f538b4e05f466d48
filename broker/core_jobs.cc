// BrokerCore: job lifecycle, dispatch, timers and recovery.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/backoff.h"
#include "broker/broker_core.h"

namespace titan::broker {

constexpr int64_t kFirstRetryMs = 500;  // a failed job's first retry waits this long
constexpr int64_t kMaxRetryMs = 30000;  // ... doubling up to this

using wire::Datum;
using wire::Text;

BrokerCore::BrokerCore(CoreConfig config, Journal* journal, LogStore* logs, ArtifactService* artifacts)
    : config_(std::move(config)), journal_(journal), logs_(logs), artifacts_(artifacts) {}

bool BrokerCore::FileInUse(const std::string& sha256) const {
  for (const auto& [id, job] : jobs_) {
    if (job.file_hash == sha256 && !IsFinal(job.state)) return true;
  }
  return false;
}

wire::Message BrokerCore::HandleArtifact(const wire::Message& req, int64_t now) {
  if (artifacts_ == nullptr) {
    return wire::MakeError(wire::ErrorCode::kUnavailable, "this broker runs without an artifact registry");
  }
  auto inline_content = [this](const std::string& hash) -> const std::string* {
    auto it = files_.find(hash);
    return it == files_.end() ? nullptr : it->second.get();
  };
  wire::Message reply =
      artifacts_->Handle(req, now, inline_content, [this](const std::string& h) { return FileInUse(h); });
  upload_deadline_ = artifacts_->Expire(now);
  return reply;
}

Job* BrokerCore::Resolve(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end() && id.rfind("DAG-", 0) == 0) it = jobs_.find(id.substr(4));
  return it == jobs_.end() ? nullptr : &it->second;
}

const Job* BrokerCore::Resolve(const std::string& id) const {
  return const_cast<BrokerCore*>(this)->Resolve(id);
}

const Job* BrokerCore::FindJob(const std::string& id) const { return Resolve(id); }

Job* BrokerCore::FindRun(const std::string& id, int64_t run) {
  auto latest = jobs_.find(id);
  if (latest != jobs_.end() && latest->second.run == run) return &latest->second;
  auto earlier = history_.find(id);
  if (earlier == history_.end() || run < 1 || run > static_cast<int64_t>(earlier->second.size()))
    return nullptr;
  return &earlier->second[static_cast<size_t>(run - 1)];
}

const Job* BrokerCore::FindRun(const std::string& id, int64_t run) const {
  return const_cast<BrokerCore*>(this)->FindRun(id, run);
}

bool BrokerCore::DoneForDag(const Job& job) {
  return job.service && job.released && job.state == JobState::kRunning;
}

void BrokerCore::Record(Job& job) {
  if (job.journal_owed != Job::Owed::kNothing) return;  // already owed: written with its state at commit
  job.journal_owed = Job::Owed::kUpdate;
  owed_.push_back(job.id);
}

Status BrokerCore::CommitTurn() {
  if (!owed_.empty()) {
    if (Status s = journal_->BeginIfNeeded(); !s.ok()) return s;
    for (const std::string& id : owed_) {
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;
      Job& job = it->second;
      Status s = job.journal_owed == Job::Owed::kInsert ? journal_->InsertJob(job) : journal_->UpdateJob(job);
      job.journal_owed = Job::Owed::kNothing;
      if (!s.ok()) {
        owed_.clear();
        return s;
      }
    }
    owed_.clear();
  }
  return journal_->Commit();
}

void BrokerCore::Publish(const Job& job, int64_t now) {
  wire::Message m = wire::MakeMessage(wire::MsgType::kEventJob);
  m.Set("id", Datum(Text{job.id}))
      .Set("state", Datum(Text{StateName(job.state)}))
      .Set("attempt", Datum(RunAttempt(job)));
  if (!job.worker.empty()) m.Set("worker", Datum(Text{job.worker}));
  if (job.exit_code) m.Set("exit_code", Datum(*job.exit_code));
  if (!job.reason.empty()) m.Set("reason", Datum(Text{job.reason}));
  m.Set("ts_ms", Datum(now));
  outbox_.push_back(Outgoing{Outgoing::kEvent, {}, {}, "job." + job.id, std::move(m)});
}

void BrokerCore::Transition(Job& job, JobState state, int64_t now) {
  job.state = state;
  if (state != JobState::kRunning) job.ready = false;
  if (state == JobState::kQueued) job.queued_at = now;
  Record(job);
  Publish(job, now);
  if (IsFinal(state)) WakeWaiters(job);
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

void BrokerCore::MakeReady(Job& job, int64_t now, bool apply_delay) {
  if (job.gate) return OpenGate(job, now);
  if (apply_delay && job.delay_ms > 0) {
    job.reason = "delayed " + std::to_string(job.delay_ms) + " ms";
    Transition(job, JobState::kScheduled, now);
    timers_.push(Timer{now + job.delay_ms, TimerKind::kReady, job.id, job.run});
    return;
  }
  Enqueue(job, now);
}

void BrokerCore::Enqueue(Job& job, int64_t now) {
  job.reason.clear();
  Transition(job, JobState::kQueued, now);
  ready_[job.requirement].insert(QueueKey{-job.priority, job.seq, job.id});
}

void BrokerCore::Assign(Job& job, Worker& w, int64_t now) {
  ++job.attempt;
  job.worker = w.name;
  job.started_ms = now;
  job.finished_ms = 0;
  job.exit_code.reset();
  job.reason.clear();
  job.next_log_seq = 0;
  job.restarts_before = job.restarts;
  w.running.insert(job.id);
  w.idle_since = 0;
  job.up_since_ms = now;
  if (RunAttempt(job) > 1) {
    const std::string banner =
        "--- titan: attempt " + std::to_string(RunAttempt(job)) + " on " + w.name + " ---\n";
    const int64_t at = logs_->Append(LogName(job), banner);
    if (at >= 0) job.log_size = at + static_cast<int64_t>(banner.size());
  }
  Transition(job, JobState::kRunning, now);
  wire::Message m = wire::MakeMessage(wire::MsgType::kJobAssign);
  m.Set("job", Datum(job.spec))
      .Set("attempt", Datum(job.attempt))
      .Set("file_sha256", Datum(Text{job.file_hash}));
  auto file = files_.find(job.file_hash);
  const int64_t size = file != files_.end()    ? static_cast<int64_t>(file->second->size())
                       : artifacts_ != nullptr ? artifacts_->BlobSize(job.file_hash)
                                               : -1;
  m.Set("file_size", Datum(size));
  if (job.first_attempt > 1) m.Set("first_attempt", Datum(job.first_attempt));
  if (InDag(job)) m.Set("shared_workdir", Datum(true));
  SendWorker(w, std::move(m));
}

void BrokerCore::Finish(Job& job, JobState state, std::string reason, int64_t now) {
  job.reason = std::move(reason);
  job.finished_ms = now;
  Transition(job, state, now);
  if (job.released) return;  // a service whose children stopped waiting for it when it became ready
  if (state == JobState::kCompleted) {
    ReleaseChildren(job, now);
  } else {
    SkipDescendants(job, now);
  }
}

void BrokerCore::ReleaseChildren(Job& job, int64_t now) {
  job.released = job.service;
  for (const auto& [child_id, child_run] : job.children) {
    Job* child = FindRun(child_id, child_run);
    if (child == nullptr || child->state != JobState::kBlocked) continue;
    if (--child->unmet_parents == 0) MakeReady(*child, now, true);
  }
}

void BrokerCore::SkipDescendants(const Job& job, int64_t now) {
  for (const auto& [child_id, child_run] : job.children) {
    Job* child = FindRun(child_id, child_run);
    if (child == nullptr || IsFinal(child->state)) continue;
    if (child->state == JobState::kQueued)
      ready_[child->requirement].erase(QueueKey{-child->priority, child->seq, child->id});
    Finish(*child, JobState::kSkipped, "parent " + job.id + " ended " + StateName(job.state), now);
  }
}

void BrokerCore::Fail(Job& job, std::string reason, int64_t now) {
  const int64_t attempt = RunAttempt(job);
  if (attempt <= job.retries) {
    const int64_t backoff = BackoffMs(attempt, kFirstRetryMs, kMaxRetryMs);
    job.reason = reason + "; retry " + std::to_string(attempt) + " of " + std::to_string(job.retries) +
                 " in " + std::to_string(backoff) + " ms";
    Transition(job, JobState::kScheduled, now);
    timers_.push(Timer{now + backoff, TimerKind::kReady, job.id, job.run});
    return;
  }
  if (job.retries > 0) {
    Finish(job, JobState::kDead, reason + " (all " + std::to_string(attempt) + " attempts failed)", now);
  } else {
    Finish(job, JobState::kFailed, std::move(reason), now);
  }
}

void BrokerCore::Requeue(Job& job, std::string reason, int64_t now, bool count_loss) {
  if (count_loss) ++job.lost;
  if (count_loss && job.lost >= config_.max_lost) {
    Finish(job, JobState::kDead, reason + " (its worker was lost " + std::to_string(job.lost) + " times)",
           now);
    return;
  }
  job.reason = reason + "; requeued";
  Transition(job, JobState::kQueued, now);
  ready_[job.requirement].insert(QueueKey{-job.priority, job.seq, job.id});
}

std::string BrokerCore::AffinityAnchor(const Job& job) const {
  if (!job.affinity) return {};
  if (!job.parents.empty()) {
    const Job* parent = FindRun(job.parents.front(), job.parent_runs.empty() ? 0 : job.parent_runs.front());
    return parent != nullptr ? parent->worker : std::string();
  }
  // A sub-task spawned by a running job (seed 004: "placed on the same node"): its submitter's worker.
  const Job* spawner = job.spawned_by.empty() ? nullptr : Resolve(job.spawned_by);
  return spawner != nullptr ? spawner->worker : std::string();
}

bool BrokerCore::InDag(const Job& job) const {
  if (!job.parents.empty()) return true;
  auto dag = dags_.find(job.dag);
  return dag != dags_.end() && dag->second.job_ids.size() > 1;
}

bool BrokerCore::AnyWorkerCan(const std::string& requirement) const {
  for (const auto& [name, w] : workers_) {
    if (!w.draining &&
        std::find(w.capabilities.begin(), w.capabilities.end(), requirement) != w.capabilities.end()) {
      return true;
    }
  }
  return false;
}

std::string BrokerCore::QueuedReason(const Job& job) const {
  if (job.state == JobState::kQueued && !AnyWorkerCan(job.requirement)) {
    return "no live worker has capability " + job.requirement + "; start one with `titan worker --tag " +
           job.requirement + "`";
  }
  return job.reason;
}

// Assignments per call: bounds one loop turn so heartbeats and replies are never held up for long
// by a huge submission; the rest is dispatched on the next turn, which comes at once.
constexpr int kMaxAssignPerTurn = 2048;

void BrokerCore::Dispatch(int64_t now) {
  dispatch_pending_ = false;
  int budget = kMaxAssignPerTurn;
  std::vector<WorkerSlot> table;
  std::vector<Worker*> refs;
  for (auto& [name, w] : workers_) {
    table.push_back(
        WorkerSlot{w.name, w.slots, static_cast<int>(w.running.size()), w.capabilities, !w.draining});
    refs.push_back(&w);
  }
  for (auto& [requirement, queue] : ready_) {
    while (!queue.empty()) {
      const std::string id = std::get<2>(*queue.begin());
      Job* job = Resolve(id);
      if (job == nullptr || job->state != JobState::kQueued || job->seq != std::get<1>(*queue.begin())) {
        queue.erase(queue.begin());
        continue;
      }
      const std::string affinity = AffinityAnchor(*job);
      const Placement p = PickWorker(requirement, affinity, table);
      if (p.kind != Placement::kWorker) break;  // the same holds for every job of this requirement
      if (budget-- == 0) {
        dispatch_pending_ = true;
        return;
      }
      queue.erase(queue.begin());
      ++table[p.index].busy;
      Assign(*job, *refs[p.index], now);
    }
  }
}

void BrokerCore::OnTick(int64_t now) {
  if (config_.scaling.max_children > 0 && now >= next_scale_check_) Autoscale(now);
  if (artifacts_ != nullptr && upload_deadline_ > 0 && now >= upload_deadline_)
    upload_deadline_ = artifacts_->Expire(now);
  while (!timers_.empty() && timers_.top().at <= now) {
    const Timer t = timers_.top();
    timers_.pop();
    switch (t.kind) {
      case TimerKind::kReady: {
        Job* job = FindRun(t.key, t.run);
        if (job != nullptr && job->state == JobState::kScheduled) Enqueue(*job, now);
        break;
      }
      case TimerKind::kWaiter: {
        const int64_t key = std::stoll(t.key);
        auto w = waiters_.find(key);
        if (w == waiters_.end()) break;
        Reply(w->second.route, w->second.rid, JobInfoReply(w->second.job_id));
        auto [begin, end] = waiters_by_job_.equal_range(w->second.job_id);
        for (auto it = begin; it != end; ++it) {
          if (it->second == key) {
            waiters_by_job_.erase(it);
            break;
          }
        }
        waiters_.erase(w);
        break;
      }
      case TimerKind::kRecovery:
        for (auto& [id, job] : jobs_) {
          if (job.state == JobState::kRunning && !workers_.count(job.worker)) {
            Requeue(job, "worker " + job.worker + " did not return after the broker restarted", now);
          }
        }
        break;
      case TimerKind::kGateExpiry: {
        Job* gate = FindRun(t.key, t.run);
        if (gate != nullptr && gate->state == JobState::kWaitingApproval &&
            now >= gate->started_ms + gate->max_wait_ms) {
          Finish(*gate, JobState::kFailed,
                 "no decision within " + std::to_string(gate->max_wait_ms / 1000) + " s (max_wait_seconds)",
                 now);
        }
        break;
      }
      case TimerKind::kSchedule: {
        auto it = schedules_.find(t.key);
        if (it != schedules_.end() && it->second.next_ms == t.at) FireSchedule(it->second, now);
        break;
      }
      case TimerKind::kHeartbeat: {
        std::vector<std::string> dead;
        for (auto& [name, w] : workers_) {
          if (now - w.last_seen > static_cast<int64_t>(config_.heartbeat_ms) * config_.liveness) {
            dead.push_back(name);
          } else {
            SendWorker(w, wire::MakeMessage(wire::MsgType::kHeartbeat));
            PublishWorker(w, "heartbeat", now);
          }
        }
        for (const auto& name : dead) {
          LoseWorker(name, "worker " + name + " missed " + std::to_string(config_.liveness) + " heartbeats",
                     now);
        }
        timers_.push(Timer{now + config_.heartbeat_ms, TimerKind::kHeartbeat, {}});
        break;
      }
    }
  }
  Dispatch(now);
}

int64_t BrokerCore::NextDeadline() const {
  if (dispatch_pending_) return 0;
  int64_t next = timers_.empty() ? INT64_MAX : timers_.top().at;
  if (upload_deadline_ > 0) next = std::min(next, upload_deadline_);
  if (config_.scaling.max_children > 0) next = std::min(next, next_scale_check_);
  return next;
}

std::vector<Outgoing> BrokerCore::TakeOutbox() {
  std::vector<Outgoing> out;
  out.swap(outbox_);
  return out;
}

Status BrokerCore::Recover(int64_t now) {
  std::vector<std::tuple<std::string, std::string, int64_t>> schedules;
  std::unordered_map<std::string, int64_t> runs;  // id -> its latest run so far, in submission order
  auto run_of = [&](const std::string& id) -> std::pair<std::string, int64_t> {
    auto it = runs.find(id);
    if (it == runs.end() && id.rfind("DAG-", 0) == 0) it = runs.find(id.substr(4));
    if (it == runs.end()) return {id, 0};
    return {it->first, it->second};
  };
  Journal::Visitor visit;
  visit.file = [&](std::string hash, std::string content) {
    files_[hash] = std::make_shared<const std::string>(std::move(content));
  };
  visit.job = [&](Job job) {
    next_seq_ = std::max(next_seq_, job.seq + 1);
    ApplySpec(job);                // rebuild what is derived from the spec
    for (auto& p : job.parents) {  // each parent's run as it was when this job was submitted
      auto [canonical, run] = run_of(p);
      p = canonical;
      job.parent_runs.push_back(run);
    }
    if (auto earlier = jobs_.find(job.id); earlier != jobs_.end()) {  // a reused id: a later run
      if (!IsFinal(earlier->second.state)) {
        spdlog::warn("broker: journal: job {} run {} is {} but a later run follows it; kept as history",
                     job.id, earlier->second.run, StateName(earlier->second.state));
      }
      job.run = earlier->second.run + 1;
      job.first_attempt = earlier->second.attempt + 1;
      history_[job.id].push_back(std::move(earlier->second));
      jobs_.erase(earlier);
    }
    runs[job.id] = job.run;
    order_.emplace_back(job.id, job.run);
    const std::string id = job.id;
    jobs_.emplace(id, std::move(job));
  };
  visit.dag = [&](Dag dag) {
    dag_order_.push_back(dag.id);
    const std::string id = dag.id;
    dags_.emplace(id, std::move(dag));
  };
  visit.schedule = [&](std::string name, std::string definition, int64_t last_ms) {
    schedules.emplace_back(std::move(name), std::move(definition), last_ms);
  };
  if (Status s = journal_->Load(visit); !s.ok()) return s;
  size_t running = 0;
  for (const auto& [id, run] : order_) {
    Job& job = *FindRun(id, run);
    job.log_size = logs_->Size(LogName(job));
    for (size_t i = 0; i < job.parents.size(); ++i) {
      // 0: the parent came later in the journal (a file written before parents were journaled
      // first, when ids were never reused): its latest run.
      if (job.parent_runs[i] == 0) {
        const Job* latest = Resolve(job.parents[i]);
        job.parent_runs[i] = latest != nullptr ? latest->run : 0;
      }
      Job* parent = FindRun(job.parents[i], job.parent_runs[i]);
      if (parent == nullptr) continue;
      parent->children.emplace_back(id, run);
      if (parent->state != JobState::kCompleted) ++job.unmet_parents;
    }
    if (jobs_.at(id).run == run && RecoverState(job, now)) ++running;
  }
  for (const auto& [name, definition, last_ms] : schedules) RestoreSchedule(name, definition, last_ms, now);
  if (running > 0) timers_.push(Timer{now + config_.recovery_grace_ms, TimerKind::kRecovery, {}});
  timers_.push(Timer{now + config_.heartbeat_ms, TimerKind::kHeartbeat, {}});
  spdlog::info("broker: recovered {} jobs ({} were running; their workers have {} ms to return)",
               order_.size(), running, config_.recovery_grace_ms);
  return Status::Ok();
}

bool BrokerCore::RecoverState(Job& job, int64_t now) {
  switch (job.state) {
    case JobState::kPending:
    case JobState::kQueued:
      job.state = JobState::kQueued;
      ready_[job.requirement].insert(QueueKey{-job.priority, job.seq, job.id});
      return false;
    case JobState::kScheduled:
      timers_.push(Timer{std::max(now, job.submitted_ms + job.delay_ms), TimerKind::kReady, job.id, job.run});
      return false;
    case JobState::kRunning:
      return true;
    case JobState::kWaitingApproval:
      timers_.push(Timer{job.started_ms + job.max_wait_ms, TimerKind::kGateExpiry, job.id, job.run});
      return false;
    default:
      return false;
  }
}

}  // namespace titan::broker
