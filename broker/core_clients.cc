// BrokerCore: the client dialog (submit, status, list, logs, stop, wait, stats, the audit log).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "broker/audit.h"
#include "broker/broker_core.h"
#include "broker/serve.h"

namespace titan::broker {

namespace {

constexpr int64_t kMaxLogRead = 2 * 1024 * 1024;
constexpr int64_t kMaxWaitMs = 300000;

// ARTIFACT_READ of the files sent inline with submissions (the broker's files_, hash -> bytes).
InlineContent InlineFiles(const std::unordered_map<std::string, std::shared_ptr<const std::string>>& files) {
  return [&files](const std::string& hash) -> const std::string* {
    auto it = files.find(hash);
    return it == files.end() ? nullptr : it->second.get();
  };
}

}  // namespace

bool BrokerCore::FileInUse(const std::string& sha256) const {
  for (const auto& [id, job] : jobs_) {
    if (job.file_hash == sha256 && !IsFinal(job.state)) return true;
  }
  return false;
}

Message BrokerCore::HandleArtifact(const Message& req, Instant now) {
  if (artifacts_ == nullptr) {
    return wire::MakeError(ErrorCode::kUnavailable, "this broker runs without an artifact registry");
  }
  Message reply = artifacts_->Handle(req, now, InlineFiles(files_),
                                     [this](const std::string& h) { return FileInUse(h); });
  upload_deadline_ = artifacts_->Expire(now.mono_ms);
  CountArtifactBytes(req, reply);
  return reply;
}

Message BrokerCore::ReadArtifact(const wire::ArtifactReadMsg& req, Instant now) {
  if (artifacts_ == nullptr) {
    return wire::MakeError(ErrorCode::kUnavailable, "this broker runs without an artifact registry");
  }
  Message reply = artifacts_->Read(req, InlineFiles(files_));
  upload_deadline_ = artifacts_->Expire(now.mono_ms);
  metrics_.artifact_bytes_out += reply.blobs.empty() ? 0 : static_cast<int64_t>(reply.blobs.front().size());
  return reply;
}

void BrokerCore::Reply(const Route& to, std::optional<int64_t> rid, Message msg) {
  outbox_.push_back(Outgoing{Outgoing::kClient, to, {}, {}, WithRid(std::move(msg), rid)});
}

void BrokerCore::Answer(const Route& to, std::optional<int64_t> rid, const Message& req, Message answer,
                        Instant now, const std::string& principal) {
  if (std::optional<wire::AuditEntry> row = AuditOf(principal, req, answer, now.wall_ms))
    Audit(std::move(*row));
  Reply(to, rid, std::move(answer));
}

void BrokerCore::Audit(wire::AuditEntry entry) { audit_owed_.push_back(std::move(entry)); }

void BrokerCore::OnClient(const Route& from, std::optional<int64_t> rid, const Message& req, Instant now,
                          const std::string& principal) {
  if (read_only_.active() && wire::SpecOf(req.type).writes) {  // the disk is full: refused, before any change
    return Answer(from, rid, req, wire::MakeError(ErrorCode::kUnavailable, read_only_.Refusal()), now,
                  principal);
  }
  if (ArtifactService::Handles(req.type))
    return Answer(from, rid, req, HandleArtifact(req, now), now, principal);
  if (req.type == MsgType::kMetricsGet)  // not in Query: it admits new capability labels
    return Reply(from, rid, Serve<wire::MetricsGetMsg>(req, [&](auto&&) { return Metrics(); }));
  if (req.type == MsgType::kJobWait) {
    Result<wire::JobWaitMsg> wait = wire::JobWaitMsg::From(req);
    if (!wait.ok()) return Reply(from, rid, wire::MakeError(wait.status()));
    return Wait(from, rid, wait.value(), now);
  }
  if (std::optional<Message> answer = Query(req, now)) return Reply(from, rid, std::move(*answer));
  Answer(from, rid, req, Change(req, now, principal), now, principal);
}

void BrokerCore::OnRefused(const Route& from, std::optional<int64_t> rid, const Message& req,
                           const Status& why, Instant now, const std::string& principal) {
  Answer(from, rid, req, wire::MakeError(why), now, principal);
}

std::optional<Message> BrokerCore::Query(const Message& req, Instant now) const {
  switch (req.type) {
    case MsgType::kHello:
      return Serve<wire::HelloMsg>(req, [&](auto&&) { return Welcome(); });
    case MsgType::kJobGet:
      return Serve<wire::JobGetMsg>(req, [&](auto&& get) { return JobGet(get); });
    case MsgType::kJobList:
      return Serve<wire::JobListMsg>(req, [&](auto&& list) { return ListJobs(list); });
    case MsgType::kJobLogs:
      return Serve<wire::JobLogsMsg>(req, [&](auto&& logs) { return ReadLogs(logs); });
    case MsgType::kStatsGet:
      return Serve<wire::StatsGetMsg>(req, [&](auto&&) { return Stats(now); });
    case MsgType::kDagList:
      return Serve<wire::DagListMsg>(req, [&](auto&& list) { return DagList(list); });
    case MsgType::kDagGet:
      return Serve<wire::DagGetMsg>(req, [&](auto&& get) { return DagGet(get.id); });
    case MsgType::kRunList:
      return Serve<wire::RunListMsg>(req, [&](auto&& list) { return RunList(list); });
    case MsgType::kScheduleList:
      return Serve<wire::ScheduleListMsg>(req, [&](auto&&) { return ScheduleList(); });
    case MsgType::kVolumeList:
      return Serve<wire::VolumeListMsg>(req, [&](auto&&) { return VolumeList(); });
    case MsgType::kAuditList:
      return Serve<wire::AuditListMsg>(req, [&](auto&& list) { return journal_->audit().List(list); });
    default:
      return std::nullopt;
  }
}

Message BrokerCore::Change(const Message& req, Instant now, const std::string& principal) {
  switch (req.type) {
    case MsgType::kJobSubmit:
      return Serve<wire::JobSubmitMsg>(req, [&](auto&& submit) { return Submit(submit, now); });
    case MsgType::kJobStop:
      return Serve<wire::JobStopMsg>(req, [&](auto&& stop) { return Stop(stop.id, now); });
    case MsgType::kServiceRestart:
      return Serve<wire::ServiceRestartMsg>(req,
                                            [&](auto&& restart) { return RestartService(restart.id, now); });
    case MsgType::kWorkerStop:
      return Serve<wire::WorkerStopMsg>(req, [&](auto&& stop) { return StopWorker(stop.name, now); });
    case MsgType::kWorkerAdd:
      return Serve<wire::WorkerAddMsg>(req, [&](auto&& add) { return AddWorker(add, now); });
    case MsgType::kGateDecide:
      return Serve<wire::GateDecideMsg>(req,
                                        [&](auto&& decide) { return DecideGate(decide, now, principal); });
    case MsgType::kDagCancel:
      return Serve<wire::DagCancelMsg>(req, [&](auto&& cancel) { return DagCancel(cancel.id, now); });
    case MsgType::kScheduleAdd:
      return Serve<wire::ScheduleAddMsg>(req, [&](auto&& add) { return ScheduleAdd(add, now); });
    case MsgType::kScheduleRemove:
      return Serve<wire::ScheduleRemoveMsg>(req, [&](auto&& remove) { return ScheduleRemove(remove.name); });
    case MsgType::kScheduleEnable:
      return Serve<wire::ScheduleEnableMsg>(req, [&](auto&& enable) { return ScheduleEnable(enable, now); });
    case MsgType::kVolumeCreate:
      return Serve<wire::VolumeCreateMsg>(req, [&](auto&& create) { return VolumeCreate(create, now); });
    case MsgType::kVolumeRemove:
      return Serve<wire::VolumeRemoveMsg>(req, [&](auto&& remove) { return VolumeRemove(remove.name); });
    case MsgType::kDagRerun:
      return Serve<wire::DagRerunMsg>(req,
                                      [&](auto&& rerun) { return DagRerun(rerun.id, rerun.token, now); });
    case MsgType::kJobDelete:
      return Serve<wire::JobDeleteMsg>(req, [&](auto&& del) { return DeleteJob(del.id); });
    default:
      return wire::MakeError(ErrorCode::kUnknownType,
                             std::string(wire::NameOf(req.type)) + " is not a request the broker answers");
  }
}

Message BrokerCore::Welcome() const {
  wire::WelcomeMsg welcome{.node = "broker",
                           .version = TITAN_VERSION,
                           .worker_port = config_.worker_port,
                           .pub_port = config_.pub_port};
  if (config_.store_port) welcome.store_port = config_.store_port;
  if (!config_.store_host.empty()) welcome.store_host = config_.store_host;
  return std::move(welcome).ToMessage();
}

void BrokerCore::Wait(const Route& from, std::optional<int64_t> rid, const wire::JobWaitMsg& req,
                      Instant now) {
  const Job* job = Resolve(req.id);
  const int64_t timeout = std::clamp<int64_t>(req.timeout_ms, 0, kMaxWaitMs);
  // A service is waited for until it is up (ready now) or ends.
  const bool up = job != nullptr && job->service && job->ready && job->state == JobState::kRunning;
  if (job == nullptr || IsFinal(job->state) || up || timeout == 0)
    return Reply(from, rid, JobInfoReply(req.id));
  const int64_t key = next_waiter_++;
  waiters_[key] = Waiter{from, rid, job->id, now.mono_ms + timeout};
  waiters_by_job_.emplace(job->id, key);
  timers_.push(Timer{now.mono_ms + timeout, TimerKind::kWaiter, {}, key});
}

Message BrokerCore::JobInfoReply(const std::string& id) const {
  Job scratch;
  const Job* job = LookUp(id, 0, &scratch);
  return JobInfoReply(job, job != nullptr ? job->run : 0);
}

Message BrokerCore::JobGet(const wire::JobGetMsg& req) const {
  Job latest_scratch, run_scratch;
  const Job* latest = LookUp(req.id, 0, &latest_scratch);
  if (latest == nullptr || !req.run) return JobInfoReply(latest, latest ? latest->run : 0);
  return JobInfoReply(*req.run == latest->run ? latest : LookUp(latest->id, *req.run, &run_scratch),
                      latest->run);
}

// JOB_INFO for `job` (null: not found); `runs` is how many runs its id has had.
Message BrokerCore::JobInfoReply(const Job* job, int64_t runs) const {
  wire::JobInfoMsg reply{.found = job != nullptr};
  if (runs > 0) reply.runs = runs;
  if (job != nullptr) {
    reply.job = RenderJobInfo(*job);
    const std::string reason = QueuedReason(*job);
    if (!reason.empty()) reply.job->reason = reason;
  }
  return std::move(reply).ToMessage();
}

Message BrokerCore::ReadLogs(const wire::JobLogsMsg& req) const {
  Job latest_scratch, run_scratch;
  const Job* job = LookUp(req.id, 0, &latest_scratch);
  if (job == nullptr) return Invalid("no job '" + req.id + "'; see `titan jobs`");
  if (req.run && *req.run != job->run) {
    const int64_t runs = job->run;
    job = LookUp(job->id, *req.run, &run_scratch);
    if (job == nullptr) {
      return Invalid("job '" + req.id + "' has no run " + std::to_string(*req.run) + "; its runs are 1.." +
                     std::to_string(runs));
    }
  }
  const int64_t offset = std::max<int64_t>(0, req.offset);
  const int64_t max = std::clamp<int64_t>(req.max_bytes, 1, kMaxLogRead);
  std::string data = logs_->Read(LogName(*job), offset, max);
  const int64_t next = offset + static_cast<int64_t>(data.size());
  return wire::JobLogDataMsg{.id = job->id,
                             .offset = offset,
                             .next_offset = next,
                             .complete = IsFinal(job->state) && next >= logs_->Size(LogName(*job)),
                             .blobs = {std::move(data)}}
      .ToMessage();
}

Message BrokerCore::Stop(const std::string& id, Instant now) {
  Job* job = Resolve(id);
  Job scratch;
  if (job == nullptr && LookUp(id, 0, &scratch) != nullptr) return JobInfoReply(id);  // ended, left memory
  if (job == nullptr) return Invalid("no job '" + id + "'; see `titan jobs`");
  job->stop_requested = true;
  job->ready = false;  // a service being stopped is not up: JOB_WAIT waits for its end
  if (job->state == JobState::kRunning) {
    auto w = workers_.find(job->worker);
    if (w != workers_.end()) {
      SendWorker(w->second,
                 wire::JobCancelMsg{.id = job->id, .attempt = job->attempt, .reason = "stopped by request"}
                     .ToMessage());
    } else {
      // Its worker is gone (not yet returned after a restart): nothing runs it here, so it ends now;
      // a worker that comes back with this run is told to cancel it (it is no longer expected).
      Finish(*job, JobState::kCancelled, "stopped by request", now);
    }
  } else if (!IsFinal(job->state)) {
    if (job->state == JobState::kQueued)
      ready_[job->requirement].erase(QueueKey{-job->priority, job->seq, job->id});
    Finish(*job, JobState::kCancelled, "stopped by request", now);
  }
  return JobInfoReply(job->id);
}

Message BrokerCore::RestartService(const std::string& id, Instant now) {
  Job* job = Resolve(id);
  Job scratch;
  const Job* known = job != nullptr ? job : LookUp(id, 0, &scratch);
  if (known == nullptr) return Invalid("no service '" + id + "'; see `titan services`");
  const std::string name = "'" + known->id + "'";
  if (!known->service) {
    return Invalid("job " + name +
                   " is not a service: only a service (`titan deploy`) restarts; run a job again " +
                   "by submitting it again");
  }
  if (job == nullptr || IsFinal(job->state)) {
    return Invalid("service " + name + " has ended (" + StateName(known->state) +
                   "); deploy it again to run it");
  }
  if (job->stop_requested) return Invalid("service " + name + " is being stopped; deploy it again to run it");
  if (job->state != JobState::kRunning) {
    return Invalid("service " + name + " is " + StateName(job->state) +
                   ": it has no process to restart yet; it starts once a worker takes it");
  }
  auto w = workers_.find(job->worker);
  if (w == workers_.end()) {
    return wire::MakeError(ErrorCode::kUnavailable,
                           "service " + name + " runs on worker " + job->worker +
                               ", which has not come back since the broker restarted; try again once it has "
                               "(`titan stats` lists the workers)");
  }
  SendWorker(w->second,
             wire::ServiceRespawnMsg{.id = job->id, .attempt = job->attempt, .reason = "restart requested"}
                 .ToMessage());
  job->ready = false;  // until a new process is: JOB_WAIT waits for it
  job->replaced_pid = job->pid;
  job->reason = "restarting (requested)";
  Record(*job);
  Publish(*job, now);
  return JobInfoReply(job->id);
}

Message BrokerCore::Stats(Instant now) const {
  const int64_t(&counts)[kStateCount] = counts_;  // kept on every transition: no walk over the jobs
  int64_t unsatisfiable = 0;
  for (const auto& [requirement, queue] : ready_) {
    if (!queue.empty() && !AnyWorkerCan(requirement)) unsatisfiable += static_cast<int64_t>(queue.size());
  }
  auto n = [&](JobState s) { return counts[static_cast<int>(s)]; };
  wire::StatsMsg stats{.pending = n(JobState::kPending),
                       .blocked = n(JobState::kBlocked),
                       .scheduled = n(JobState::kScheduled),
                       .queued = n(JobState::kQueued),
                       .running = n(JobState::kRunning),
                       .unsatisfiable = unsatisfiable,
                       .completed = n(JobState::kCompleted),
                       .failed = n(JobState::kFailed) + n(JobState::kDead),
                       .scaling = std::vector(scale_events_.begin(), scale_events_.end()),
                       .malformed_from_workers = malformed_from_workers_,
                       .jobs_in_memory = in_memory_,
                       .jobs_evicted = evicted_,
                       .stale_epoch_results = metrics_.stale_epoch_results,
                       .submissions_replayed = metrics_.submissions_replayed};
  // A runtime's measurements once, on the first worker offering it: the reply grows with the runtimes, not
  // with the workers (a large environment lists thousands of packages).
  std::set<std::string> described;
  for (const auto& [name, w] : workers_) {
    wire::WorkerInfo info = RenderWorker(w, now);
    if (info.runtime_info) {
      std::erase_if(*info.runtime_info,
                    [&](const wire::RuntimeInfo& r) { return !described.insert(r.name).second; });
      if (info.runtime_info->empty()) info.runtime_info.reset();
    }
    stats.workers.push_back(std::move(info));
  }
  if (read_only_.active()) {
    stats.read_only = true;
    stats.read_only_reason = read_only_.cause() + "; " + read_only_.Refusal();
    stats.read_only_since_ms = read_only_.since_wall_ms();
  }
  return std::move(stats).ToMessage();
}

Message BrokerCore::StopWorker(const std::string& name, Instant now) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return Invalid("no worker named '" + name + "'; see `titan stats`");
  it->second.draining = true;
  PublishWorker(it->second, "draining", now);
  SendWorker(it->second, wire::WorkerDrainMsg{.reason = "shutdown requested"}.ToMessage());
  return wire::OkMsg{}.ToMessage();
}

}  // namespace titan::broker
