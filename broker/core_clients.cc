// BrokerCore: the client dialog (submit, status, list, logs, stop, wait, stats).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {

namespace {

constexpr int64_t kMaxLogRead = 2 * 1024 * 1024;
constexpr int64_t kMaxWaitMs = 300000;

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
  auto inline_content = [this](const std::string& hash) -> const std::string* {
    auto it = files_.find(hash);
    return it == files_.end() ? nullptr : it->second.get();
  };
  Message reply =
      artifacts_->Handle(req, now, inline_content, [this](const std::string& h) { return FileInUse(h); });
  upload_deadline_ = artifacts_->Expire(now.mono_ms);
  return reply;
}

void BrokerCore::Reply(const Route& to, std::optional<int64_t> rid, Message msg) {
  if (rid) msg.Set("rid", Datum(*rid));
  outbox_.push_back(Outgoing{Outgoing::kClient, to, {}, {}, std::move(msg)});
}

void BrokerCore::OnClient(const Route& from, std::optional<int64_t> rid, const Message& req, Instant now) {
  if (ArtifactService::Handles(req.type)) return Reply(from, rid, HandleArtifact(req, now));
  if (req.type == MsgType::kJobWait) return Wait(from, rid, req, now);
  if (std::optional<Message> answer = Query(req, now)) return Reply(from, rid, std::move(*answer));
  Reply(from, rid, Change(req, now));
}

std::optional<Message> BrokerCore::Query(const Message& req, Instant now) const {
  switch (req.type) {
    case MsgType::kHello:
      return Welcome();
    case MsgType::kJobGet:
      return JobGet(req);
    case MsgType::kJobList:
      return ListJobs(req);
    case MsgType::kJobLogs:
      return ReadLogs(req);
    case MsgType::kStatsGet:
      return Stats(now);
    case MsgType::kDagList:
      return DagList(req);
    case MsgType::kDagGet:
      return DagGet(std::string(req.Bytes("id")));
    case MsgType::kRunList:
      return RunList(req);
    case MsgType::kScheduleList:
      return ScheduleList();
    default:
      return std::nullopt;
  }
}

Message BrokerCore::Change(const Message& req, Instant now) {
  switch (req.type) {
    case MsgType::kJobSubmit:
      return Submit(req, now);
    case MsgType::kJobStop:
      return Stop(std::string(req.Bytes("id")), now);
    case MsgType::kWorkerStop:
      return StopWorker(std::string(req.Bytes("name")), now);
    case MsgType::kWorkerAdd:
      return AddWorker(req, now);
    case MsgType::kGateDecide:
      return DecideGate(req, now);
    case MsgType::kDagCancel:
      return DagCancel(std::string(req.Bytes("id")), now);
    case MsgType::kScheduleAdd:
      return ScheduleAdd(req, now);
    case MsgType::kScheduleRemove:
      return ScheduleRemove(std::string(req.Bytes("name")));
    default:
      return wire::MakeError(ErrorCode::kUnknownType,
                             std::string(wire::NameOf(req.type)) + " is not a request the broker answers");
  }
}

Message BrokerCore::Welcome() const {
  Message m = wire::MakeMessage(MsgType::kWelcome);
  m.Set("node", Datum(Text{"broker"})).Set("version", Datum(Text{TITAN_VERSION}));
  if (config_.store_port) m.Set("store_port", Datum(int64_t{config_.store_port}));
  if (!config_.store_host.empty()) m.Set("store_host", Datum(Text{config_.store_host}));
  return m.Set("worker_port", Datum(int64_t{config_.worker_port}))
      .Set("pub_port", Datum(int64_t{config_.pub_port}));
}

void BrokerCore::Wait(const Route& from, std::optional<int64_t> rid, const Message& req, Instant now) {
  const Job* job = Resolve(std::string(req.Bytes("id")));
  const int64_t timeout = std::clamp<int64_t>(req.Int("timeout_ms"), 0, kMaxWaitMs);
  // A service is waited for until it is up (ready now) or ends.
  const bool up = job != nullptr && job->service && job->ready && job->state == JobState::kRunning;
  if (job == nullptr || IsFinal(job->state) || up || timeout == 0) {
    return Reply(from, rid, JobInfoReply(std::string(req.Bytes("id"))));
  }
  const int64_t key = next_waiter_++;
  waiters_[key] = Waiter{from, rid, job->id, now.mono_ms + timeout};
  waiters_by_job_.emplace(job->id, key);
  timers_.push(Timer{now.mono_ms + timeout, TimerKind::kWaiter, {}, key});
}

Message BrokerCore::JobInfoReply(const std::string& id) const {
  const Job* job = Resolve(id);
  return JobInfoReply(job, job != nullptr ? job->run : 0);
}

Message BrokerCore::JobGet(const Message& req) const {
  const Job* latest = Resolve(std::string(req.Bytes("id")));
  if (latest == nullptr || !req.Has("run")) return JobInfoReply(latest, latest ? latest->run : 0);
  return JobInfoReply(FindRun(latest->id, req.Int("run")), latest->run);
}

// JOB_INFO for `job` (null: not found); `runs` is how many runs its id has had.
Message BrokerCore::JobInfoReply(const Job* job, int64_t runs) const {
  Message m = wire::MakeMessage(MsgType::kJobInfo).Set("found", Datum(job != nullptr));
  if (runs > 0) m.Set("runs", Datum(runs));
  if (job != nullptr) {
    Datum info = RenderJobInfo(*job);
    const std::string reason = QueuedReason(*job);
    if (!reason.empty()) {
      auto& map = std::get<wire::Map>(info.v);
      std::erase_if(map, [](const auto& kv) { return kv.first == "reason"; });
      map.emplace_back("reason", Datum(Text{reason}));
    }
    m.Set("job", std::move(info));
  }
  return m;
}

Message BrokerCore::ListJobs(const Message& req) const {
  std::optional<JobState> filter;
  if (req.Has("state")) {
    filter = StateFromName(req.Bytes("state"));
    if (!filter)
      return Invalid("unknown state '" + std::string(req.Bytes("state")) +
                     "'; use one of PENDING BLOCKED "
                     "SCHEDULED QUEUED RUNNING WAITING_APPROVAL COMPLETED FAILED CANCELLED DEAD SKIPPED");
  }
  const size_t limit = static_cast<size_t>(std::clamp<int64_t>(req.Int("limit"), 1, 10000));
  wire::List out;
  bool truncated = false;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const Job& job = jobs_.at(it->first);
    if (job.run != it->second) continue;  // an earlier run of a reused id: listed by JOB_GET run
    if (filter && job.state != *filter) continue;
    if (req.Has("job_type") && req.Bytes("job_type") != (job.service ? "SERVICE" : "RUN_PAYLOAD")) continue;
    if (out.size() == limit) {
      truncated = true;
      break;
    }
    out.push_back(RenderJobInfo(job));
  }
  return wire::MakeMessage(MsgType::kJobListReply)
      .Set("jobs", Datum(std::move(out)))
      .Set("truncated", Datum(truncated));
}

Message BrokerCore::ReadLogs(const Message& req) const {
  const std::string id(req.Bytes("id"));
  const Job* job = Resolve(id);
  if (job == nullptr) return Invalid("no job '" + id + "'; see `titan jobs`");
  if (req.Has("run")) {
    const int64_t runs = job->run;
    job = FindRun(job->id, req.Int("run"));
    if (job == nullptr) {
      return Invalid("job '" + id + "' has no run " + std::to_string(req.Int("run")) + "; its runs are 1.." +
                     std::to_string(runs));
    }
  }
  const int64_t offset = std::max<int64_t>(0, req.Int("offset"));
  const int64_t max = std::clamp<int64_t>(req.Int("max_bytes"), 1, kMaxLogRead);
  std::string data = logs_->Read(LogName(*job), offset, max);
  const int64_t next = offset + static_cast<int64_t>(data.size());
  const bool complete = IsFinal(job->state) && next >= logs_->Size(LogName(*job));
  Message m = wire::MakeMessage(MsgType::kJobLogData);
  m.Set("id", Datum(Text{job->id})).Set("offset", Datum(offset)).Set("next_offset", Datum(next));
  m.Set("complete", Datum(complete));
  m.blobs.push_back(std::move(data));
  return m;
}

Message BrokerCore::Stop(const std::string& id, Instant now) {
  Job* job = Resolve(id);
  if (job == nullptr) return Invalid("no job '" + id + "'; see `titan jobs`");
  job->stop_requested = true;
  job->ready = false;  // a service being stopped is not up: JOB_WAIT waits for its end
  if (job->state == JobState::kRunning) {
    auto w = workers_.find(job->worker);
    if (w != workers_.end()) {
      SendWorker(w->second, wire::MakeMessage(MsgType::kJobCancel)
                                .Set("id", Datum(Text{job->id}))
                                .Set("attempt", Datum(job->attempt))
                                .Set("reason", Datum(Text{"stopped by request"})));
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

Message BrokerCore::Stats(Instant now) const {
  int64_t counts[kStateCount] = {};
  for (const auto& [id, job] : jobs_) ++counts[static_cast<int>(job.state)];
  for (const auto& [id, runs] : history_) {
    for (const Job& job : runs) ++counts[static_cast<int>(job.state)];
  }
  int64_t unsatisfiable = 0;
  for (const auto& [requirement, queue] : ready_) {
    if (!queue.empty() && !AnyWorkerCan(requirement)) unsatisfiable += static_cast<int64_t>(queue.size());
  }
  wire::List workers;
  for (const auto& [name, w] : workers_) workers.push_back(RenderWorker(w, now));
  auto n = [&](JobState s) { return Datum(counts[static_cast<int>(s)]); };
  return wire::MakeMessage(MsgType::kStats)
      .Set("workers", Datum(std::move(workers)))
      .Set("pending", n(JobState::kPending))
      .Set("blocked", n(JobState::kBlocked))
      .Set("scheduled", n(JobState::kScheduled))
      .Set("queued", n(JobState::kQueued))
      .Set("running", n(JobState::kRunning))
      .Set("unsatisfiable", Datum(unsatisfiable))
      .Set("completed", n(JobState::kCompleted))
      .Set("failed",
           Datum(counts[static_cast<int>(JobState::kFailed)] + counts[static_cast<int>(JobState::kDead)]))
      .Set("scaling", Datum(wire::List(scale_events_.begin(), scale_events_.end())));
}

Message BrokerCore::StopWorker(const std::string& name, Instant now) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return Invalid("no worker named '" + name + "'; see `titan stats`");
  it->second.draining = true;
  PublishWorker(it->second, "draining", now);
  SendWorker(it->second,
             wire::MakeMessage(MsgType::kWorkerDrain).Set("reason", Datum(Text{"shutdown requested"})));
  return wire::MakeMessage(MsgType::kOk);
}

}  // namespace titan::broker
