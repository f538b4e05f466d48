// BrokerCore: the worker dialog (register, heartbeats, job start/log/done, loss and reconciliation).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/exit_reason.h"
#include "base/log_format.h"
#include "broker/broker_core.h"
#include "broker/reconcile.h"

namespace titan::broker {

namespace {

// What RefuseFromWorker logs of a message of `type` that did not decode into its struct.
std::string Malformed(MsgType type, const Status& why) {
  return "a malformed " + std::string(wire::NameOf(type)) + " (" + why.message() + ")";
}

// The runs of a WORKER_READY list (running, or finished results), one per item, in order.
template <class Item>
std::vector<RunRef> RunRefs(const std::vector<Item>& items) {
  std::vector<RunRef> out;
  for (const Item& item : items) out.push_back(RunRef{item.id, item.attempt, item.epoch.value_or(0)});
  return out;
}

Message Disconnect(const std::string& reason) { return wire::DisconnectMsg{.reason = reason}.ToMessage(); }

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

wire::WorkerInfo BrokerCore::RenderWorker(const Worker& w, Instant now) const {
  wire::WorkerInfo info{.name = w.name,
                        .host = w.host,
                        .slots = w.slots,
                        .busy = static_cast<int64_t>(w.running.size()),
                        .capabilities = w.capabilities,
                        .state = w.draining ? "DRAINING" : "READY",
                        .running = {w.running.begin(), w.running.end()},
                        .seen_ms_ago = now.mono_ms - w.last_seen,
                        .parent = w.parent.empty() ? std::nullopt : std::optional(w.parent),
                        .port = w.port > 0 ? std::optional(w.port) : std::nullopt,
                        .machine = w.machine};
  AddPlacementInfo(w, &info);
  return info;
}

void BrokerCore::AddPlacementInfo(const Worker& w, wire::WorkerInfo* info) const {
  const Resources reserved = Reserved(w);
  info->cpu_milli = w.capacity.cpu_milli;
  info->memory_mb = w.capacity.memory_mb;
  info->gpus = w.capacity.gpus;
  info->cpu_milli_reserved = reserved.cpu_milli;
  info->memory_mb_reserved = reserved.memory_mb;
  info->gpus_reserved = reserved.gpus;
  if (!w.controls.empty()) info->controls = w.controls;
  if (!w.limits_via.empty()) info->limits_via = w.limits_via;
  if (!w.runtimes.empty()) info->runtimes = w.runtimes;
  if (!w.runtime_info.empty()) info->runtime_info = w.runtime_info;
}

void BrokerCore::PublishWorker(const Worker& w, const char* event, Instant now) {
  wire::EventWorkerMsg m{.worker = RenderWorker(w, now), .event = event};
  outbox_.push_back(Outgoing{Outgoing::kEvent, {}, {}, "worker." + w.name, std::move(m).ToMessage()});
}

std::string BrokerCore::RenderWorkers() const {
  std::string out;
  for (const auto& [name, w] : workers_) {
    out += (out.empty() ? "" : " ") + name + ":" + std::to_string(w.running.size()) + "/" +
           std::to_string(w.slots);
  }
  return out;
}

bool BrokerCore::AdmitWorkerLog(const std::string& identity, Instant now) {
  const LogLimiter::Verdict v = worker_log_limit_.Admit(identity, now.mono_ms);
  if (v.suppressed > 0) {
    spdlog::warn("broker: {} more bad messages from worker peer {} suppressed", v.suppressed,
                 PrintablePeer(identity));
  }
  return v.log;
}

void BrokerCore::NoteMalformedFromWorker(const std::string& identity, const std::string& what, Instant now) {
  ++malformed_from_workers_;
  if (AdmitWorkerLog(identity, now)) {
    spdlog::warn("broker: dropping {} from worker peer {}", what, PrintablePeer(identity));
  }
}

void BrokerCore::RefuseFromWorker(const std::string& identity, const std::string& what, Message error,
                                  std::optional<int64_t> rid, Instant now) {
  NoteMalformedFromWorker(identity, what, now);
  outbox_.push_back(Outgoing{Outgoing::kWorker, {}, identity, {}, WithRid(std::move(error), rid)});
}

BrokerCore::Worker* BrokerCore::Sender(const std::string& identity, Instant now) {
  Worker* w = WorkerByIdentity(identity);
  if (w == nullptr) {  // a worker from before a broker restart, or one declared dead
    outbox_.push_back(
        Outgoing{Outgoing::kWorker, {}, identity, {}, Disconnect("unknown worker; send WORKER_READY")});
    return nullptr;
  }
  w->last_seen = now.mono_ms;
  return w;
}

template <class T, class Handle>
void BrokerCore::FromWorker(const std::string& identity, const Message& msg, Instant now,
                            std::optional<int64_t> rid, Handle handle) {
  Result<T> typed = T::From(msg);
  if (!typed.ok())
    return RefuseFromWorker(identity, Malformed(msg.type, typed.status()), wire::MakeError(typed.status()),
                            rid, now);
  if (Worker* w = Sender(identity, now)) handle(*w, std::move(typed).value());
}

void BrokerCore::OnWorker(const std::string& identity, const Message& msg, Instant now,
                          std::optional<int64_t> rid, const std::string& principal) {
  auto known = worker_names_.find(identity);
  const LogScope ids({{"worker", known != worker_names_.end() ? known->second : ""}});  // json logs' ids
  switch (msg.type) {
    case MsgType::kWorkerReady: {
      Result<wire::WorkerReadyMsg> ready = wire::WorkerReadyMsg::From(msg);
      if (!ready.ok()) {
        return RefuseFromWorker(identity, Malformed(msg.type, ready.status()),
                                wire::MakeError(ready.status()), rid, now);
      }
      return RegisterWorker(identity, ready.value(), now, principal);
    }
    case MsgType::kHeartbeat:
      return FromWorker<wire::HeartbeatMsg>(identity, msg, now, rid, [&](Worker& w, wire::HeartbeatMsg beat) {
        if (beat.draining.value_or(false) && !w.draining) StartDraining(w, now);
        if (beat.machine) w.machine = std::move(beat.machine);
      });
    case MsgType::kJobStarted:  // confirms the RUNNING published at assignment: nothing new to tell anyone
      return FromWorker<wire::JobStartedMsg>(identity, msg, now, rid, [](Worker&, wire::JobStartedMsg) {});
    case MsgType::kJobLog:
      return FromWorker<wire::JobLogMsg>(
          identity, msg, now, rid, [&](Worker& w, wire::JobLogMsg log) { JobLog(w, std::move(log), now); });
    case MsgType::kServiceStatus:
      return FromWorker<wire::ServiceStatusMsg>(
          identity, msg, now, rid,
          [&](Worker& w, wire::ServiceStatusMsg status) { ServiceStatus(w, status, now); });
    case MsgType::kArtifactRead:  // a worker fetching a job's file it does not have yet
      return FromWorker<wire::ArtifactReadMsg>(identity, msg, now, rid,
                                               [&](Worker& w, wire::ArtifactReadMsg read) {
                                                 SendWorker(w, WithRid(ReadArtifact(read, now), rid));
                                               });
    case MsgType::kJobDone:
      return FromWorker<wire::JobDoneMsg>(
          identity, msg, now, rid, [&](Worker& w, wire::JobDoneMsg done) { JobDone(w, done.result, now); });
    default:
      if (Worker* w = Sender(identity, now); w != nullptr && AdmitWorkerLog(identity, now)) {
        spdlog::warn("broker: worker {} sent {}, which workers do not send; ignored", w->name,
                     wire::NameOf(msg.type));
      }
  }
}

BrokerCore::Worker& BrokerCore::UpdateWorker(const std::string& identity, const wire::WorkerReadyMsg& msg,
                                             Instant now) {
  const std::string& name = msg.name;
  auto existing = workers_.find(name);
  const bool rejoin = existing != workers_.end();
  if (rejoin && existing->second.identity != identity) {
    worker_names_.erase(existing->second.identity);  // the same worker on a new connection
  }
  Worker& w = workers_[name];
  w.identity = identity;
  w.name = name;
  w.host = msg.host;
  w.pid = msg.pid;
  w.slots = static_cast<int>(std::clamp<int64_t>(msg.slots, 1, 1 << 20));
  w.capabilities = msg.capabilities;
  w.volumes_dir = msg.volumes_dir.value_or("");
  w.parent = msg.parent.value_or("");
  w.port = std::clamp<int64_t>(msg.port.value_or(0), 0, 65535);
  w.controls = msg.controls.value_or(std::vector<std::string>{});
  w.runtimes = msg.runtimes.value_or(std::vector<std::string>{});
  w.runtime_info = msg.runtime_info.value_or(std::vector<wire::RuntimeInfo>{});
  w.limits_via = msg.limits_via.value_or("");
  // A capacity it does not report is none: a job requesting that resource does not go there.
  w.capacity = Resources{.cpu_milli = std::max<int64_t>(0, msg.cpu_milli.value_or(0)),
                         .memory_mb = std::max<int64_t>(0, msg.memory_mb.value_or(0)),
                         .gpus = std::max<int64_t>(0, msg.gpus.value_or(0))};
  // The child asked for has come; a parent that (re)registers has forgotten any spawn it was asked for.
  std::erase_if(scale_pending_, [&](const ScalePending& p) { return p.child == name || p.parent == name; });
  if (!rejoin) w.idle_since = now.mono_ms;
  w.last_seen = now.mono_ms;
  worker_names_[identity] = name;
  return w;
}

BelievedRun BrokerCore::Believe(const Job& job, const std::string& reporter) const {
  return BelievedRun{job.state, job.attempt, job.worker,
                     job.worker != reporter && workers_.count(job.worker) > 0, job.epoch};
}

ReconcileInput BrokerCore::ReconcileSnapshot(const std::string& name, const wire::WorkerReadyMsg& msg) const {
  ReconcileInput in{name, RunRefs(msg.running), RunRefs(msg.finished), {}, msg.session.value_or(0) > 1};
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
void BrokerCore::RegisterWorker(const std::string& identity, const wire::WorkerReadyMsg& msg, Instant now,
                                const std::string& principal) {
  const LogScope ids({{"worker", msg.name}});
  const auto live = workers_.find(msg.name);
  if (live != workers_.end() && live->second.principal != principal) {
    spdlog::warn("broker: refused worker name {} to principal '{}': it belongs to '{}'", msg.name, principal,
                 live->second.principal);
    outbox_.push_back(
        Outgoing{Outgoing::kWorker,
                 {},
                 identity,
                 {},
                 wire::MakeError(Status::Forbidden("worker name '" + msg.name + "' belongs to principal '" +
                                                   live->second.principal +
                                                   "' while that worker is live; choose another --name"))});
    return;
  }
  const bool rejoin = live != workers_.end();
  const int64_t previous_pid = rejoin ? live->second.pid : 0;
  Worker& w = UpdateWorker(identity, msg, now);
  w.principal = principal;
  w.session = msg.session;
  if (msg.draining.value_or(false)) {
    if (!w.draining) StartDraining(w, now);  // before anything is dispatched to it
  } else if (w.draining && msg.pid != previous_pid) {
    w.draining = false;  // a new process under a drained name: e.g. restarted after its reaper reported
  }
  const ReconcileInput in = ReconcileSnapshot(w.name, msg);
  w.running.clear();
  bool welcomed = false;
  for (const Decision& d : Reconcile(in)) {
    if (read_only_.active() && (d.kind == Decision::kAdoptRequeued || d.kind == Decision::kApplyResult ||
                                d.kind == Decision::kRequeue)) {
      ResyncLater(w);  // a journaled change: it reports this again when asked to, once writable
      continue;
    }
    const bool about_runs =
        d.kind == Decision::kAdopt || d.kind == Decision::kAdoptRequeued || d.kind == Decision::kCancel;
    if (!about_runs && !welcomed) {
      SendWelcome(w);
      welcomed = true;
    }
    CarryOut(w, d, d.result < msg.finished.size() ? &msg.finished[d.result] : nullptr, now);
  }
  if (!welcomed) SendWelcome(w);
  spdlog::info("broker: worker {} {} ({} slots, {} running)", w.name, rejoin ? "rejoined" : "joined", w.slots,
               w.running.size());
  PublishWorker(w, rejoin ? "rejoined" : "joined", now);
}

void BrokerCore::SendWelcome(const Worker& w) {
  wire::WorkerWelcomeMsg welcome{.heartbeat_ms = config_.heartbeat_ms, .pub_port = config_.pub_port};
  if (config_.store_port) welcome.store_port = config_.store_port;
  welcome.lease_ms = LeaseMs(config_);
  welcome.session = w.session;
  SendWorker(w, welcome.ToMessage());
  SendVolumesTo(w);  // a worker that registers (again) gets its volumes again
}

void BrokerCore::CarryOut(Worker& w, const Decision& d, const wire::JobResult* result, Instant now) {
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
      if (d.stale_epoch) CountStaleEpoch(w, d);
      spdlog::info("broker: worker {} still runs {} attempt {}; cancelling it: {}", w.name, d.id, d.attempt,
                   d.why);
      return SendWorker(w, wire::JobCancelMsg{.id = d.id,
                                              .attempt = d.attempt,
                                              .reason = "the broker no longer expects this run: " + d.why}
                               .ToMessage());
    case Decision::kApplyResult:
    case Decision::kIgnoreResult:
      if (result == nullptr) return;  // Reconcile decides only about results the worker listed
      if (d.stale_epoch) CountStaleEpoch(w, d);
      AckResult(w, result->id, result->attempt);
      if (d.kind == Decision::kApplyResult && job != nullptr) ApplyResult(w, *job, *result, now);
      return;
    case Decision::kRequeue:
      if (job != nullptr) LoseRun(*job, d.why, now, d.lost);
      return;
  }
}

// A service's worker says whether it is ready and how often it restarted it. The first time it is
// ready, jobs that depend on it may start (a service never COMPLETES).
void BrokerCore::ServiceStatus(Worker& w, const wire::ServiceStatusMsg& msg, Instant now) {
  if (read_only_.active()) return ResyncLater(w);  // journaled; sent again after WORKER_WELCOME
  Job* job = Resolve(msg.id);
  if (job == nullptr || !job->service || job->state != JobState::kRunning || job->attempt != msg.attempt ||
      job->worker != w.name) {
    return;
  }
  // The process a restart replaces may report once more (sent before its worker had the SERVICE_RESPAWN):
  // it is going, and says nothing of the service.
  if (job->replaced_pid != 0 && msg.pid == job->replaced_pid) return;
  job->pid = msg.pid;
  job->replaced_pid =
      0;  // a new process spoke: the old one's statuses all came before (one socket, in order)
  job->ready = msg.ready && !job->stop_requested;  // a service being stopped is not up
  const int64_t restarts = job->restarts_before + msg.restarts;
  if (restarts > job->restarts) job->up_since_ms = now.wall_ms;  // a new process: uptime counts from here
  job->restarts = restarts;
  job->reason = job->ready ? (job->port ? "ready on port " + std::to_string(job->port) : std::string("ready"))
                           : msg.reason.value_or("");
  Record(*job);
  Publish(*job, now);
  if (job->ready) WakeWaiters(*job);  // JOB_WAIT on a service returns once it is up
  if (job->ready && !job->released) ReleaseChildren(*job, now);
}

void BrokerCore::JobLog(Worker& w, wire::JobLogMsg msg, Instant now) {
  Job* job = Resolve(msg.id);
  if (job == nullptr || job->attempt != msg.attempt || job->worker != w.name || msg.blobs.empty()) return;
  const LogScope ids({{"job", job->id}});
  if (msg.seq != job->next_log_seq) {  // chunks lost on the way (sent while this broker was down): said so
    spdlog::warn("broker: job {} log chunk {} arrived, expected {}: output was lost", job->id, msg.seq,
                 job->next_log_seq);
    if (!job->log_truncated) {
      job->log_truncated = true;
      if (!read_only_.active()) Record(*job);  // else journaled with the run's next change, as LogLost does
    }
  }
  job->next_log_seq = msg.seq + 1;
  const Result<int64_t> offset = logs_->Append(LogName(*job), msg.blobs.front());
  if (!offset.ok()) return LogLost(*job, offset.status(), now);
  job->log_size = *offset + static_cast<int64_t>(msg.blobs.front().size());
  metrics_.log_bytes += static_cast<int64_t>(msg.blobs.front().size());
  wire::EventLogMsg event{.id = job->id,
                          .offset = *offset,
                          .stream = std::move(msg.stream),
                          .blobs = {std::move(msg.blobs.front())}};
  outbox_.push_back(Outgoing{Outgoing::kEvent, {}, {}, "log." + job->id, std::move(event).ToMessage()});
}

void BrokerCore::CountStaleEpoch(const Worker& w, const Decision& d) {
  ++metrics_.stale_epoch_results;
  spdlog::warn("broker: worker {} reported {} attempt {} from an older lease epoch; refused ({}): {}", w.name,
               d.id, d.attempt,
               d.kind == Decision::kCancel ? "its run is cancelled" : "result acknowledged, not applied",
               d.why);
}

void BrokerCore::AckResult(const Worker& w, const std::string& id, int64_t attempt) {
  acks_[w.identity].push_back(wire::JobRef{.id = id, .attempt = attempt});
}

void BrokerCore::FlushAcks() {
  constexpr size_t kAcksPerMessage = 1024;
  constexpr size_t kAckBytesPerMessage = 256 * 1024;
  for (auto& [identity, refs] : acks_) {
    for (size_t first = 0; first < refs.size();) {
      wire::JobAckMsg ack{.id = std::move(refs[first].id), .attempt = refs[first].attempt};
      size_t bytes = ack.id.size(), next = first + 1;
      for (; next < refs.size() && next - first < kAcksPerMessage && bytes < kAckBytesPerMessage; ++next) {
        bytes += refs[next].id.size();
        if (!ack.more) ack.more.emplace();
        ack.more->push_back(std::move(refs[next]));
      }
      outbox_.push_back(Outgoing{Outgoing::kWorker, {}, identity, {}, std::move(ack).ToMessage()});
      first = next;
    }
  }
  acks_.clear();
}

void BrokerCore::JobDone(Worker& w, const wire::JobResult& r, Instant now) {
  if (read_only_.active()) return ResyncLater(w);  // not acknowledged: the worker keeps it for WORKER_READY
  AckResult(w, r.id, r.attempt);  // every result, known or stale, so the worker can forget it
  Job* job = Resolve(r.id);
  const BelievedRun believed = job != nullptr ? Believe(*job, w.name) : BelievedRun{};
  if (job == nullptr) return;
  const RunRef ref{job->id, r.attempt, r.epoch.value_or(0)};
  if (std::string why = WhyStale(ref, &believed, w.name); !why.empty()) {
    if (OlderEpoch(ref, &believed))
      CountStaleEpoch(w, Decision{Decision::kIgnoreResult, job->id, r.attempt, 0, std::move(why), true});
    return;
  }
  ApplyResult(w, *job, r, now);
}

void BrokerCore::ApplyResult(Worker& w, Job& job, const wire::JobResult& r, Instant now) {
  const LogScope ids({{"job", job.id}});
  const std::string reason = r.reason.value_or("");  // the worker's sentence; empty: from exit_code, signal
  w.running.erase(job.id);
  if (w.running.empty()) w.idle_since = now.mono_ms;
  if (r.fenced.value_or(false)) {  // as if its worker was lost: the copy is dead, the job runs again
    return LoseRun(job, "worker " + w.name + " killed it: " + (reason.empty() ? "fenced" : reason), now);
  }
  job.exit_code = r.exit_code;
  if (r.log_truncated.value_or(false)) job.log_truncated = true;  // its worker's job.log is incomplete
  if (r.usage) job.usage = r.usage;                               // journaled with the run's change
  if (job.service && !job.stop_requested && w.draining) {
    // A service never finishes: its draining worker handed it back, so it moves to another worker.
    Requeue(job, "worker " + w.name + " is draining; service moved", now, /*count_loss=*/false);
  } else if (r.cancelled) {
    Finish(job, JobState::kCancelled, reason.empty() ? "stopped by request" : reason, now);
  } else if (r.exit_code == 0 && r.signal == 0) {
    Finish(job, JobState::kCompleted, "", now);
  } else {
    job.finished_ms = now.wall_ms;
    Fail(job, reason.empty() ? ExitReason(r.exit_code, r.signal) : reason, now);
  }
}

void BrokerCore::RevokeWorkers(const std::vector<std::string>& principals, Instant now) {
  std::vector<std::string> revoked;
  for (const auto& [name, w] : workers_) {
    if (std::find(principals.begin(), principals.end(), w.principal) != principals.end())
      revoked.push_back(name);
  }
  for (const std::string& name : revoked) {
    const Worker& w = workers_.at(name);
    const std::string why = "the principal '" + w.principal + "' of worker " + name + " was revoked";
    for (const std::string& id : w.running) {
      if (const Job* job = Resolve(id); job != nullptr && job->worker == name) {
        SendWorker(w, wire::JobCancelMsg{.id = job->id,
                                         .attempt = job->attempt,
                                         .reason = "the broker no longer expects this run: " + why}
                          .ToMessage());
      }
    }
    LoseWorker(name, why, now, /*count_loss=*/false);
  }
}

void BrokerCore::LoseWorker(const std::string& name, const std::string& why, Instant now, bool count_loss) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return;
  Worker w = std::move(it->second);
  workers_.erase(it);
  worker_names_.erase(w.identity);
  const bool left = w.draining && w.running.empty();  // a drained worker that exited, as asked
  if (left) {
    spdlog::info("broker: worker {} left after draining", name);
  } else {
    ++metrics_.workers_lost;
    spdlog::warn("broker: {}; requeueing its {} jobs", why, w.running.size());
  }
  if (read_only_.active()) {
    // Nothing may be journaled: its runs stay RUNNING until writable, then the recovery step requeues
    // every run whose worker is gone, as after a restart.
    if (!w.running.empty()) (void)DeferWhileReadOnly(Timer{now.mono_ms, TimerKind::kRecovery, {}});
    w.running.clear();
  }
  for (const auto& id : w.running) {
    Job* job = Resolve(id);
    if (job != nullptr && job->state == JobState::kRunning && job->worker == name)
      LoseRun(*job, why, now, count_loss);
  }
  w.running.clear();
  PublishWorker(w, left ? "left" : "lost", now);
}

}  // namespace titan::broker
