// BrokerCore: the worker dialog (register, heartbeats, job start/log/done, loss and reconciliation).
#include <spdlog/spdlog.h>

#include "broker/broker_core.h"

namespace titan::broker {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

namespace {

std::vector<std::string> Strings(const Datum* d) {
  std::vector<std::string> out;
  if (d != nullptr) {
    for (const auto& s : std::get<wire::List>(d->v)) out.emplace_back(s.bytes());
  }
  return out;
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

Datum BrokerCore::RenderWorker(const Worker& w, int64_t now) const {
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
                         {"seen_ms_ago", Datum(now - w.last_seen)},
                         {"parent", w.parent.empty() ? Datum() : Datum(Text{w.parent})},
                         {"port", w.port > 0 ? Datum(w.port) : Datum()}});
}

void BrokerCore::PublishWorker(const Worker& w, const char* event, int64_t now) {
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

void BrokerCore::OnWorker(const std::string& identity, const Message& msg, int64_t now,
                          std::optional<int64_t> rid) {
  if (msg.type == MsgType::kWorkerReady) return RegisterWorker(identity, msg, now);
  Worker* w = WorkerByIdentity(identity);
  if (w == nullptr) {
    // A worker from before a broker restart, or one declared dead: it must register again.
    outbox_.push_back(Outgoing{Outgoing::kWorker,
                               {},
                               identity,
                               {},
                               wire::MakeMessage(MsgType::kDisconnect)
                                   .Set("reason", Datum(Text{"unknown worker; send WORKER_READY"}))});
    return;
  }
  w->last_seen = now;
  switch (msg.type) {
    case MsgType::kHeartbeat:
      if (msg.Bool("draining") && !w->draining) {
        w->draining = true;
        spdlog::info("broker: worker {} is shutting down; it gets no new jobs", w->name);
        PublishWorker(*w, "draining", now);
      }
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
      return JobDone(*w, *msg.Find("result"), now);
    default:
      spdlog::warn("broker: worker {} sent {}, which workers do not send; ignored", w->name,
                   wire::NameOf(msg.type));
  }
}

void BrokerCore::RegisterWorker(const std::string& identity, const Message& msg, int64_t now) {
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
  w.slots = static_cast<int>(std::max<int64_t>(1, msg.Int("slots")));
  w.capabilities = Strings(msg.Find("capabilities"));
  w.parent = std::string(msg.Bytes("parent"));
  w.port = std::clamp<int64_t>(msg.Int("port"), 0, 65535);
  // The child asked for has come; a parent that (re)registers has forgotten any spawn it was asked for.
  std::erase_if(scale_pending_, [&](const ScalePending& p) { return p.child == name || p.parent == name; });
  if (!rejoin) w.idle_since = now;
  w.last_seen = now;
  worker_names_[identity] = name;
  // Reconcile what the worker says it runs with what the journal says runs there:
  //  - a run the broker expects (same job, same attempt) is adopted;
  //  - any other run is cancelled on the worker;
  //  - finished results are applied as JOB_DONE;
  //  - runs the journal placed here that the worker no longer has are requeued.
  w.running.clear();
  for (const auto& ref : std::get<wire::List>(msg.Find("running")->v)) {
    const auto& m = std::get<wire::Map>(ref.v);
    const std::string id(wire::FindField(m, "id")->bytes());
    const int64_t attempt = std::get<int64_t>(wire::FindField(m, "attempt")->v);
    Job* job = Resolve(id);
    if (job != nullptr && job->state == JobState::kRunning && job->attempt == attempt &&
        (job->worker == name || !workers_.count(job->worker))) {
      job->worker = name;
      w.running.insert(id);
    } else if (job != nullptr && job->state == JobState::kQueued && job->attempt == attempt &&
               job->worker == name) {
      // Requeued when this worker was declared lost, and the run is still going: adopt it back
      // rather than kill it and start over.
      ready_[job->requirement].erase(QueueKey{-job->priority, job->seq, job->id});
      job->reason = "its worker " + name + " came back with it";
      Transition(*job, JobState::kRunning, now);
      w.running.insert(id);
    } else {
      SendWorker(w, Cancel(id, attempt, "the broker no longer expects this run"));
    }
  }
  Message welcome =
      wire::MakeMessage(MsgType::kWorkerWelcome).Set("heartbeat_ms", Datum(int64_t{config_.heartbeat_ms}));
  if (config_.store_port) welcome.Set("store_port", Datum(int64_t{config_.store_port}));
  welcome.Set("pub_port", Datum(int64_t{config_.pub_port}));
  SendWorker(w, std::move(welcome));
  for (const auto& result : std::get<wire::List>(msg.Find("finished")->v)) JobDone(w, result, now);
  for (auto& [id, job] : jobs_) {
    if (job.state == JobState::kRunning && job.worker == name && !w.running.count(id)) {
      Requeue(job, "worker " + name + " came back without it", now);
    }
  }
  spdlog::info("broker: worker {} {} ({} slots, {} running)", name, rejoin ? "rejoined" : "joined", w.slots,
               w.running.size());
  PublishWorker(w, rejoin ? "rejoined" : "joined", now);
}

// A service's worker says whether it is ready and how often it restarted it. The first time it is
// ready, jobs that depend on it may start (a service never COMPLETES).
void BrokerCore::ServiceStatus(Worker& w, const Message& msg, int64_t now) {
  Job* job = Resolve(std::string(msg.Bytes("id")));
  if (job == nullptr || !job->service || job->state != JobState::kRunning ||
      job->attempt != msg.Int("attempt") || job->worker != w.name) {
    return;
  }
  job->ready = msg.Bool("ready") && !job->stop_requested;  // a service being stopped is not up
  const int64_t restarts = job->restarts_before + msg.Int("restarts");
  if (restarts > job->restarts) job->up_since_ms = now;  // a new process: uptime counts from here
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

void BrokerCore::JobDone(Worker& w, const Datum& result, int64_t now) {
  const auto& r = std::get<wire::Map>(result.v);
  const std::string id(wire::FindField(r, "id")->bytes());
  const int64_t attempt = std::get<int64_t>(wire::FindField(r, "attempt")->v);
  const int64_t exit_code = std::get<int64_t>(wire::FindField(r, "exit_code")->v);
  const int64_t signal = std::get<int64_t>(wire::FindField(r, "signal")->v);
  const bool cancelled = std::get<bool>(wire::FindField(r, "cancelled")->v);
  const Datum* reason_field = wire::FindField(r, "reason");
  std::string reason = reason_field ? std::string(reason_field->bytes()) : std::string();
  // Acknowledge every result, known or stale, so the worker can forget it.
  SendWorker(w,
             wire::MakeMessage(MsgType::kJobAck).Set("id", Datum(Text{id})).Set("attempt", Datum(attempt)));
  Job* job = Resolve(id);
  if (job == nullptr || job->state != JobState::kRunning || job->attempt != attempt || job->worker != w.name)
    return;
  w.running.erase(id);
  if (w.running.empty()) w.idle_since = now;
  job->exit_code = exit_code;
  if (job->service && !job->stop_requested && w.draining) {
    // A service never finishes: its draining worker handed it back, so it moves to another worker.
    Requeue(*job, "worker " + w.name + " is draining; service moved", now, /*count_loss=*/false);
    return;
  }
  if (cancelled) {
    Finish(*job, JobState::kCancelled, reason.empty() ? "stopped by request" : reason, now);
  } else if (exit_code == 0 && signal == 0) {
    Finish(*job, JobState::kCompleted, "", now);
  } else {
    if (reason.empty())
      reason =
          signal ? "killed by signal " + std::to_string(signal) : "exit code " + std::to_string(exit_code);
    job->finished_ms = now;
    Fail(*job, reason, now);
  }
}

void BrokerCore::LoseWorker(const std::string& name, const std::string& why, int64_t now) {
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
