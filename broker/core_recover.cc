// BrokerCore: recovery after a restart. The journal is read back (a corrupt row stops the start
// unless CoreConfig::salvage), each job is linked to the parent runs it was submitted with, and each
// latest run resumes where its state says: its queue, its timer, or (RUNNING) a wait of
// recovery_grace_ms for its worker to come back with it.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {

Status BrokerCore::Recover(Instant now) {
  if (start_wall_ms_ == 0) start_wall_ms_ = now.wall_ms;  // metrics: counters count from here
  std::vector<Schedule> schedules;
  std::unordered_map<std::string, int64_t> runs;  // id -> its latest run so far, in submission order
  Journal::Visitor visit;
  visit.file = [&](std::string hash, std::string content) {
    files_[hash] = std::make_shared<const std::string>(std::move(content));
  };
  visit.job = [&](Job job) { AddRecoveredJob(std::move(job), runs); };
  visit.dag = [&](Dag dag) {
    dag_order_.push_back(dag.id);
    if (!dag.token.empty()) tokens_[dag.token] = dag.id;
    const std::string id = dag.id;
    dags_.emplace(id, std::move(dag));
  };
  visit.schedule = [&](std::string name, std::string definition, int64_t last_ms) {
    Result<Schedule> s = DecodeSchedule(std::move(name), definition, last_ms);
    if (s.ok()) schedules.push_back(std::move(s.value()));
    return s.ok() ? Status::Ok() : s.status();
  };
  visit.volume = [&](std::string name, std::string info) { return RestoreVolume(name, info); };
  Journal::LoadReport report;
  // With a retention count only the newest submissions of finished jobs come back into memory (and
  // every one with a job not yet final); the rest are read from the journal when asked for.
  const int64_t recent = Retaining() ? config_.retain_finished_count : 0;
  if (Status s = journal_->Load(visit, config_.salvage, &report, recent); !s.ok()) return s;
  if (Status s = journal_->CountStates(counts_); !s.ok()) return s;
  next_seq_ = std::max(next_seq_, report.last_job_seq + 1);  // past skipped rows too: seq is their key
  const size_t running = ResumeRecovered(now);
  QueueRecoveredDags(now);
  for (Schedule& s : schedules) RestoreSchedule(std::move(s), now);
  if (running > 0) timers_.push(Timer{now.mono_ms + config_.recovery_grace_ms, TimerKind::kRecovery, {}});
  timers_.push(Timer{now.mono_ms + config_.heartbeat_ms, TimerKind::kHeartbeat, {}});
  if (config_.audit_retention_ms > 0) timers_.push(Timer{now.mono_ms, TimerKind::kAuditPrune, {}});
  if (config_.journal_retention_ms > 0) timers_.push(Timer{now.mono_ms, TimerKind::kJournalPrune, {}});
  spdlog::info("broker: recovered {} jobs ({} were running; their workers have {} ms to return){}",
               order_.size(), running, config_.recovery_grace_ms,
               report.partial ? "; older finished jobs stay in the journal" : "");
  if (!report.skipped.empty()) {
    spdlog::error(
        "broker: --salvage skipped {} unreadable journal rows (each logged above); jobs that "
        "depended on a skipped job stay BLOCKED until stopped",
        report.skipped.size());
  }
  return Status::Ok();
}

void BrokerCore::AddRecoveredJob(Job job, std::unordered_map<std::string, int64_t>& runs) {
  next_seq_ = std::max(next_seq_, job.seq + 1);
  for (auto& p : job.parents) {  // each parent's run as it was when this job was submitted
    auto it = runs.find(p);
    if (it == runs.end() && p.rfind("DAG-", 0) == 0) it = runs.find(p.substr(4));
    if (it != runs.end()) p = it->first;
    job.parent_runs.push_back(it != runs.end() ? it->second : 0);
  }
  if (auto earlier = jobs_.find(job.id); earlier != jobs_.end()) {  // a reused id: a later run
    if (!IsFinal(earlier->second.state)) {
      spdlog::warn("broker: journal: job {} run {} is {} but a later run follows it; kept as history", job.id,
                   earlier->second.run, StateName(earlier->second.state));
    }
    const int64_t run = earlier->second.run;
    history_[job.id].emplace(run, std::move(earlier->second));
    jobs_.erase(earlier);
  }
  ++in_memory_;
  runs[job.id] = job.run;
  order_.emplace_back(job.id, job.run);
  const std::string id = job.id;
  jobs_.emplace(id, std::move(job));
}

size_t BrokerCore::ResumeRecovered(Instant now) {
  for (const auto& [id, run] : order_) {
    if (Job* job = FindRun(id, run)) LinkRecoveredParents(*job);
  }
  size_t running = 0;
  for (const auto& [id, run] : order_) {
    Job* job = FindRun(id, run);
    if (job == nullptr) continue;
    for (size_t i = 0; i < job->parents.size(); ++i) {
      const Job* parent = FindRun(job->parents[i], job->parent_runs[i]);
      if (parent != nullptr && parent->state != JobState::kCompleted && !DoneForDag(*parent))
        ++job->unmet_parents;
    }
    if (jobs_.at(id).run == run && RecoverState(*job, now)) ++running;
  }
  return running;
}

void BrokerCore::LinkRecoveredParents(Job& job) {
  job.log_size = logs_->Size(LogName(job));
  // Past BLOCKED (and not skipped or stopped while waiting), a job shows its parents were done for
  // it: a service parent had become ready and released it. Not journaled, so derived here.
  const bool went_on = job.state != JobState::kPending && job.state != JobState::kBlocked &&
                       job.state != JobState::kSkipped && job.state != JobState::kCancelled;
  for (size_t i = 0; i < job.parents.size(); ++i) {
    // 0: the parent came later in the journal (a file written before parents were journaled first,
    // when ids were never reused): its latest run.
    if (job.parent_runs[i] == 0) {
      const Job* latest = Resolve(job.parents[i]);
      job.parent_runs[i] = latest != nullptr ? latest->run : 0;
    }
    Job* parent = FindRun(job.parents[i], job.parent_runs[i]);
    if (parent == nullptr) continue;
    parent->children.emplace_back(job.id, job.run);
    if (went_on && parent->service && !IsFinal(parent->state)) parent->released = true;
  }
}

bool BrokerCore::RecoverState(Job& job, Instant now) {
  switch (job.state) {
    case JobState::kPending: {  // only in a journal from an older broker: placed as Accept would
      const JobState next = job.unmet_parents > 0 ? JobState::kBlocked : JobState::kQueued;
      if (!Allowed(job, next)) return false;
      job.state = next;
      Count(job, JobState::kPending, next, now);
      if (next == JobState::kQueued) ready_[job.requirement].insert(QueueKey{-job.priority, job.seq, job.id});
      return false;
    }
    case JobState::kQueued:
      ready_[job.requirement].insert(QueueKey{-job.priority, job.seq, job.id});
      return false;
    case JobState::kScheduled:  // its delay counted from submission, by the clock that survives restarts
      timers_.push(
          Timer{MonoAt(now, AddMs(job.submitted_ms, job.delay_ms)), TimerKind::kReady, job.id, job.run});
      return false;
    case JobState::kRunning:
      return true;
    case JobState::kWaitingApproval:
      ArmWallTimer(TimerKind::kGateExpiry, job.id, job.run, AddMs(job.started_ms, job.max_wait_ms), now);
      return false;
    default:
      return false;
  }
}

}  // namespace titan::broker
