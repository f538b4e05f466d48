// BrokerCore: the worker dialog (register, heartbeats, job start/log/done, loss and reconciliation).
#include <spdlog/spdlog.h>

#include "base/exit_reason.h"
#include "broker/broker_core.h"
#include "broker/reconcile.h"

namespace titan::broker {

namespace {

std::vector<std::string> Strings(const Datum* d) {
  std::vector<std::string> out;
  const auto* list = d != nullptr ? std::get_if<wire::List>(&d->v) : nullptr;
  if (list != nullptr) {
    for (const auto& s : *list) out.emplace_back(s.bytes());
  }
  return out;
}

JobResult ReadResult(const Datum& d) {
  static const wire::Map kEmpty;
  const auto* found = std::get_if<wire::Map>(&d.v);
  const wire::Map& m = found != nullptr ? *found : kEmpty;
  JobResult r;
  r.id = wire::FieldStr(m, "id");
  r.attempt = wire::FieldInt(m, "attempt").value_or(0);
  r.exit_code = wire::FieldInt(m, "exit_code").value_or(0);
  r.signal = wire::FieldInt(m, "signal").value_or(0);
  const Datum* cancelled = wire::FindField(m, "cancelled");
  r.cancelled =
      cancelled != nullptr && std::holds_alternative<bool>(cancelled->v) && std::get<bool>(cancelled->v);
  r.reason = wire::FieldStr(m, "reason");
  return r;
}

// The runs of a WORKER_READY list (running or finished), one per item, in order.
std::vector<RunRef> RunRefs(const Datum* d) {
  std::vector<RunRef> out;
  const auto* list = d != nullptr ? std::get_if<wire::List>(&d->v) : nullptr;
  if (list == nullptr) return out;
  for (const auto& item : *list) {
    const auto* m = std::get_if<wire::Map>(&item.v);
    const Datum* id = m != nullptr ? wire::FindField(*m, "id") : nullptr;
    out.push_back(RunRef{id != nullptr ? std::string(id->bytes()) : std::string(),
                         m ? wire::FieldInt(*m, "attempt").value_or(0) : 0});
  }
  return out;
}

Message Disconnect(const std::string& reason) {
  return wire::MakeMessage(MsgType::kDisconnect).Set("reason", Datum(Text{reason}));
}

Message Cancel(const std::string& id, int64_t attempt, const std::string& reason) {
  return wire::MakeMessage(MsgType::kJobCancel)
      .Set("id", Datum(Text{id}))
      .Set("attempt", Datum(attempt))
      .Set("reason", Datum(Text{reason}));
}

}  // namespace

BrokerCore::Worker* BrokerCore::WorkerByIdentity(const std::string& identity) {
  auto it = worker_names_.find(identity);
  if (it == worker_names_.end()) return nullptr;
  auto w = workers_.find(it->second);
  return w == workers_.end() ? nullptr : &w->second;
}

void BrokerCore::SendWorker(const Worker& w, Message msg) {
  outbox_.push_back(Outgoing{Outgoing::kWorker, {}, w.identity, {}, std::move(msg)});
}

Datum BrokerCore::RenderWorker(const Worker& w, Instant now) const {
  wire::List caps, running;
  for (const auto& c : w.capabilities) caps.push_back(Datum(Text{c}));
  for (const auto& r : w.running) running.push_back(Datum(Text{r}));
  return Datum(wire::Map{{"name", Datum(Text{w.name})},
                         {"host", Datum(Text{w.host})},
                         {"slots", Datum(int64_t{w.slots})},
                         {"busy", Datum(static_cast<int64_t>(w.running.size()))},
                         {"capabilities", Datum(std::move(caps))},
                         {"state", Datum(Text{w.draining ? "DRAINING" : "READY"})},
                         {"running", Datum(std::move(running))},
                         {"seen_ms_ago", Datum(now.mono_ms - w.last_seen)},
                         {"parent", w.parent.empty() ? Datum() : Datum(Text{w.parent})},
                         {"port", w.port > 0 ? Datum(w.port) : Datum()}});
}

void BrokerCore::PublishWorker(const Worker& w, const char* event, Instant now) {
  Message m = wire::MakeMessage(MsgType::kEventWorker);
  m.Set("worker", RenderWorker(w, now)).Set("event", Datum(Text{event}));
  outbox_.push_back(Outgoing{Outgoing::kEvent, {}, {}, "worker." + w.name, std::move(m)});
}

std::string BrokerCore::RenderWorkers() const {
  std::string out;
  for (const auto& [name, w] : workers_) {
    out += (out.empty() ? "" : " ") + name + ":" + std::to_string(w.running.size()) + "/" +
           std::to_string(w.slots);
  }
  return out;
}

void BrokerCore::OnWorker(const std::string& identity, const Message& msg, Instant now,
                          std::optional<int64_t> rid) {
  if (msg.type == MsgType::kWorkerReady) return RegisterWorker(identity, msg, now);
  Worker* w = WorkerByIdentity(identity);
  if (w == nullptr) {  // a worker from before a broker restart, or one declared dead
    outbox_.push_back(
        Outgoing{Outgoing::kWorker, {}, identity, {}, Disconnect("unknown worker; send WORKER_READY")});
    return;
  }
  w->last_seen = now.mono_ms;
  switch (msg.type) {
    case MsgType::kHeartbeat:
      if (msg.Bool("draining") && !w->draining) StartDraining(*w, now);
      return;
    case MsgType::kJobStarted:
      // Confirms the RUNNING the broker published at assignment: nothing new to tell anyone.
      return;
    case MsgType::kJobLog:
      return JobLog(*w, msg);
    case MsgType::kServiceStatus:
      return ServiceStatus(*w, msg, now);
    case MsgType::kArtifactRead: {  // a worker fetching a job's file it does not have yet
      Message reply = HandleArtifact(msg, now);
      if (rid) reply.Set("rid", Datum(*rid));
      return SendWorker(*w, std::move(reply));
    }
    case MsgType::kJobDone:
      return JobDone(*w, msg.Find("result") ? *msg.Find("result") : Datum(), now);
    default:
      spdlog::warn("broker: worker {} sent {}, which workers do not send; ignored", w->name,
                   wire::NameOf(msg.type));
  }
}

BrokerCore::Worker& BrokerCore::UpdateWorker(const std::string& identity, const Message& msg, Instant now) {
  const std::string name(msg.Bytes("name"));
  auto existing = workers_.find(name);
  const bool rejoin = existing != workers_.end();
  if (rejoin && existing->second.identity != identity) {
    worker_names_.erase(existing->second.identity);  // the same worker on a new connection
  }
  Worker& w = workers_[name];
  w.identity = identity;
  w.name = name;
  w.host = std::string(msg.Bytes("host"));
  w.pid = msg.Int("pid");
  w.slots = static_cast<int>(std::clamp<int64_t>(msg.Int("slots"), 1, 1 << 20));
  w.capabilities = Strings(msg.Find("capabilities"));
  w.parent = std::string(msg.Bytes("parent"));
  w.port = std::clamp<int64_t>(msg.Int("port"), 0, 65535);
  // The child asked for has come; a parent that (re)registers has forgotten any spawn it was asked for.
  std::erase_if(scale_pending_, [&](const ScalePending& p) { return p.child == name || p.parent == name; });
  if (!rejoin) w.idle_since = now.mono_ms;
  w.last_seen = now.mono_ms;
  worker_names_[identity] = name;
  return w;
}

BelievedRun BrokerCore::Believe(const Job& job, const std::string& reporter) const {
  return BelievedRun{job.state, job.attempt, job.worker,
                     job.worker != reporter && workers_.count(job.worker) > 0};
}

ReconcileInput BrokerCore::ReconcileSnapshot(const std::string& name, const Message& msg) const {
  ReconcileInput in{name, RunRefs(msg.Find("running")), RunRefs(msg.Find("finished")), {}};
  for (auto* refs : {&in.running, &in.finished}) {
    for (RunRef& ref : *refs) {
      const Job* job = Resolve(ref.id);
      if (job == nullptr) continue;
      ref.id = job->id;  // "DAG-x" reported: x
      in.believed[job->id] = Believe(*job, name);
    }
  }
  for (const auto& [id, job] : jobs_) {
    if (job.state == JobState::kRunning && job.worker == name) in.believed[id] = Believe(job, name);
  }
  return in;
}

void BrokerCore::StartDraining(Worker& w, Instant now) {
  w.draining = true;
  spdlog::info("broker: worker {} is shutting down; it gets no new jobs", w.name);
  PublishWorker(w, "draining", now);
}

// WORKER_READY: a worker joins, or comes back (after a broker restart, or after it was thought lost)
// listing what it still runs and the results it has not had acknowledged. Reconcile decides what each
// means; the welcome goes out after the runs are settled and before the results are applied.
void BrokerCore::RegisterWorker(const std::string& identity, const Message& msg, Instant now) {
  const bool rejoin = workers_.count(std::string(msg.Bytes("name"))) > 0;
  Worker& w = UpdateWorker(identity, msg, now);
  const ReconcileInput in = ReconcileSnapshot(w.name, msg);
  const Datum* listed = msg.Find("finished");
  const auto* finished = listed != nullptr ? std::get_if<wire::List>(&listed->v) : nullptr;
  w.running.clear();
  bool welcomed = false;
  for (const Decision& d : Reconcile(in)) {
    const bool about_runs =
        d.kind == Decision::kAdopt || d.kind == Decision::kAdoptRequeued || d.kind == Decision::kCancel;
    if (!about_runs && !welcomed) {
      SendWelcome(w);
      welcomed = true;
    }
    CarryOut(w, d, finished != nullptr && d.result < finished->size() ? &(*finished)[d.result] : nullptr,
             now);
  }
  if (!welcomed) SendWelcome(w);
  spdlog::info("broker: worker {} {} ({} slots, {} running)", w.name, rejoin ? "rejoined" : "joined", w.slots,
               w.running.size());
  PublishWorker(w, rejoin ? "rejoined" : "joined", now);
}

void BrokerCore::SendWelcome(const Worker& w) {
  Message welcome =
      wire::MakeMessage(MsgType::kWorkerWelcome).Set("heartbeat_ms", Datum(int64_t{config_.heartbeat_ms}));
  if (config_.store_port) welcome.Set("store_port", Datum(int64_t{config_.store_port}));
  welcome.Set("pub_port", Datum(int64_t{config_.pub_port}));
  SendWorker(w, std::move(welcome));
}

void BrokerCore::CarryOut(Worker& w, const Decision& d, const Datum* result, Instant now) {
  Job* job = Resolve(d.id);
  switch (d.kind) {
    case Decision::kAdopt:
      if (job == nullptr) return;
      job->worker = w.name;
      w.running.insert(job->id);
      return;
    case Decision::kAdoptRequeued:  // rather than kill it and start over
      if (job == nullptr) return;
      ready_[job->requirement].erase(QueueKey{-job->priority, job->seq, job->id});
      job->reason = "its worker " + w.name + " came back with it";
      if (Transition(*job, JobState::kRunning, now)) w.running.insert(job->id);
      return;
    case Decision::kCancel:
      spdlog::info("broker: worker {} still runs {} attempt {}; cancelling it: {}", w.name, d.id, d.attempt,
                   d.why);
      return SendWorker(w, Cancel(d.id, d.attempt, "the broker no longer expects this run: " + d.why));
    case Decision::kApplyResult:
    case Decision::kIgnoreResult: {
      const JobResult r = ReadResult(result != nullptr ? *result : Datum());
      AckResult(w, r.id, r.attempt);
      if (d.kind == Decision::kApplyResult && job != nullptr) ApplyResult(w, *job, r, now);
      return;
    }
    case Decision::kRequeue:
      if (job != nullptr) Requeue(*job, d.why, now);
      return;
  }
}

// A service's worker says whether it is ready and how often it restarted it. The first time it is
// ready, jobs that depend on it may start (a service never COMPLETES).
void BrokerCore::ServiceStatus(Worker& w, const Message& msg, Instant now) {
  Job* job = Resolve(std::string(msg.Bytes("id")));
  if (job == nullptr || !job->service || job->state != JobState::kRunning ||
      job->attempt != msg.Int("attempt") || job->worker != w.name) {
    return;
  }
  job->ready = msg.Bool("ready") && !job->stop_requested;  // a service being stopped is not up
  const int64_t restarts = job->restarts_before + msg.Int("restarts");
  if (restarts > job->restarts) job->up_since_ms = now.wall_ms;  // a new process: uptime counts from here
  job->restarts = restarts;
  job->reason = job->ready ? (job->port ? "ready on port " + std::to_string(job->port) : std::string("ready"))
                           : std::string(msg.Bytes("reason"));
  Record(*job);
  Publish(*job, now);
  if (job->ready) WakeWaiters(*job);  // JOB_WAIT on a service returns once it is up
  if (job->ready && !job->released) ReleaseChildren(*job, now);
}

void BrokerCore::JobLog(Worker& w, const Message& msg) {
  Job* job = Resolve(std::string(msg.Bytes("id")));
  if (job == nullptr || job->attempt != msg.Int("attempt") || job->worker != w.name || msg.blobs.empty())
    return;
  const int64_t seq = msg.Int("seq");
  if (seq != job->next_log_seq) {
    spdlog::warn("broker: job {} log chunk {} arrived, expected {}: output was lost", job->id, seq,
                 job->next_log_seq);
  }
  job->next_log_seq = seq + 1;
  const int64_t offset = logs_->Append(LogName(*job), msg.blobs.front());
  if (offset < 0) return;
  job->log_size = offset + static_cast<int64_t>(msg.blobs.front().size());
  Message ev = wire::MakeMessage(MsgType::kEventLog);
  ev.Set("id", Datum(Text{job->id}))
      .Set("offset", Datum(offset))
      .Set("stream", Datum(Text{std::string(msg.Bytes("stream"))}));
  ev.blobs.push_back(msg.blobs.front());
  outbox_.push_back(Outgoing{Outgoing::kEvent, {}, {}, "log." + job->id, std::move(ev)});
}

void BrokerCore::AckResult(const Worker& w, const std::string& id, int64_t attempt) {
  SendWorker(w,
             wire::MakeMessage(MsgType::kJobAck).Set("id", Datum(Text{id})).Set("attempt", Datum(attempt)));
}

void BrokerCore::JobDone(Worker& w, const Datum& result, Instant now) {
  const JobResult r = ReadResult(result);
  AckResult(w, r.id, r.attempt);  // every result, known or stale, so the worker can forget it
  Job* job = Resolve(r.id);
  const BelievedRun believed = job != nullptr ? Believe(*job, w.name) : BelievedRun{};
  if (job == nullptr || !WhyStale(RunRef{job->id, r.attempt}, &believed, w.name).empty()) return;
  ApplyResult(w, *job, r, now);
}

void BrokerCore::ApplyResult(Worker& w, Job& job, const JobResult& r, Instant now) {
  w.running.erase(job.id);
  if (w.running.empty()) w.idle_since = now.mono_ms;
  job.exit_code = r.exit_code;
  if (job.service && !job.stop_requested && w.draining) {
    // A service never finishes: its draining worker handed it back, so it moves to another worker.
    Requeue(job, "worker " + w.name + " is draining; service moved", now, /*count_loss=*/false);
  } else if (r.cancelled) {
    Finish(job, JobState::kCancelled, r.reason.empty() ? "stopped by request" : r.reason, now);
  } else if (r.exit_code == 0 && r.signal == 0) {
    Finish(job, JobState::kCompleted, "", now);
  } else {
    job.finished_ms = now.wall_ms;
    Fail(job, r.reason.empty() ? ExitReason(r.exit_code, r.signal) : r.reason, now);
  }
}

void BrokerCore::LoseWorker(const std::string& name, const std::string& why, Instant now) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return;
  Worker w = std::move(it->second);
  workers_.erase(it);
  worker_names_.erase(w.identity);
  const bool left = w.draining && w.running.empty();  // a drained worker that exited, as asked
  if (left) {
    spdlog::info("broker: worker {} left after draining", name);
  } else {
    spdlog::warn("broker: {}; requeueing its {} jobs", why, w.running.size());
  }
  for (const auto& id : w.running) {
    Job* job = Resolve(id);
    if (job != nullptr && job->state == JobState::kRunning && job->worker == name) Requeue(*job, why, now);
  }
  w.running.clear();
  PublishWorker(w, left ? "left" : "lost", now);
}

}  // namespace titan::broker
