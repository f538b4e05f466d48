// WorkerCore: the broker's messages (assign, cancel, ack, drain, spawn, welcome), signals, the
// WORKER_READY it registers with, and the outbox. Runs are ended in core_runs.cc, services are
// tended in core_services.cc.
#include "worker/worker_core.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>

#include <algorithm>

#include "worker/reaper_runs.h"

namespace titan::worker {
namespace {

using wire::Message;
using wire::MsgType;

// The struct of a broker message of type T; nullopt, logged, when it does not decode (the caller
// drops the message). Messages from the link passed Decode, which checks the same fields.
template <class T>
std::optional<T> Decode(const Message& msg, const std::string& worker) {
  Result<T> decoded = T::From(msg);
  if (decoded.ok()) return std::move(decoded).value();
  spdlog::warn("worker {}: dropping a malformed {} from the broker: {}", worker, wire::NameOf(msg.type),
               decoded.message());
  return std::nullopt;
}

std::string SignalName(int64_t sig) {
  const char* abbrev = sig > 0 && sig < 1024 ? sigabbrev_np(static_cast<int>(sig)) : nullptr;
  return abbrev ? abbrev : std::to_string(sig);
}

}  // namespace

std::string Render(const Command& c) {
  using K = Command::Kind;
  const std::string run = c.id + "/" + std::to_string(c.attempt);
  switch (c.kind) {
    case K::kSend:
      return "send " + std::string(wire::NameOf(c.msg.type)) + " " + wire::Render(wire::Datum(c.msg.body));
    case K::kFetch:
      return "fetch " + c.sha256;
    case K::kLaunch:
      return "launch " + run;
    case K::kRespawn:
      return "respawn " + c.id + " (restart " + std::to_string(c.number) + ")";
    case K::kSignal:
      return "signal " + c.id + " " + SignalName(c.number);
    case K::kAbandonOutput:
      return "abandon-output " + c.id;
    case K::kEndRun:
      return "end-run " + c.id;
    case K::kForget:
      return "forget " + c.id;
    case K::kAcked:
      return "acked " + run;
    case K::kRunsGrace:
      return "runs-grace " + std::to_string(c.number) + "ms";
    case K::kStartProbe:
      return "probe " + c.id;
    case K::kStopProbe:
      return "stop-probe " + c.id;
    case K::kSpawnChild:
      return "spawn-child " + c.child.name;
    case K::kSignalChildren:
      return "signal-children " + SignalName(c.number);
    case K::kKillChildren:
      return "kill-children";
    case K::kReregister:
      return "reregister";
    case K::kRenewRegistration:
      return "renew-registration";
    case K::kNewSession:
      return "new-session";
    case K::kAnnounce:
      return "announce";
    case K::kNote:
      return "note " + c.id + ": " + c.text;
    case K::kEnsureVolumes: {
      std::string names;
      for (const wire::VolumeSpec& v : c.volumes) names += " " + v.name;
      return "ensure-volumes" + names;
    }
    case K::kDeleteVolume:
      return "delete-volume " + c.id;
  }
  return "?";
}

wire::JobResult FailedStart(const std::string& id, int64_t attempt, const std::string& reason,
                            bool cancelled) {
  return wire::JobResult{
      .id = id, .attempt = attempt, .exit_code = -1, .signal = 0, .cancelled = cancelled, .reason = reason};
}

WorkerCore::WorkerCore(WorkerCoreConfig config) : c_(std::move(config)) {}

void WorkerCore::Emit(Command c) { out_.push_back(std::move(c)); }

void WorkerCore::Acknowledged(const std::string& id, int64_t attempt) {
  if (unacked_.erase({id, attempt}) > 0)
    Emit(Command{.kind = Command::Kind::kAcked, .id = id, .attempt = attempt});
}

void WorkerCore::Send(Message msg) { Emit(Command{.kind = Command::Kind::kSend, .msg = std::move(msg)}); }

std::vector<Command> WorkerCore::TakeCommands() { return std::exchange(out_, {}); }

std::optional<int64_t> WorkerCore::EpochOf(const std::string& id, int64_t attempt) const {
  auto it = epochs_.find({id, attempt});
  return it == epochs_.end() ? std::nullopt : std::optional<int64_t>(it->second);
}

void WorkerCore::Report(wire::JobResult result) {
  if (auto epoch = epochs_.find({result.id, result.attempt}); epoch != epochs_.end()) {
    result.epoch = epoch->second;  // kept with the result until JOB_ACK
    epochs_.erase(epoch);
  }
  unacked_[{result.id, result.attempt}] = result;
  Send(wire::JobDoneMsg{.result = std::move(result)}.ToMessage());
}

void WorkerCore::OnMessage(const Message& msg, Instant at) {
  const int64_t now = at.mono_ms;
  const std::string& me = c_.name;
  OnContact(at);
  switch (msg.type) {
    case MsgType::kWorkerWelcome:
      if (auto welcome = Decode<wire::WorkerWelcomeMsg>(msg, me)) Welcome(*welcome, now);
      return;
    case MsgType::kJobAssign:
      if (auto assign = Decode<wire::JobAssignMsg>(msg, me)) Assign(std::move(*assign), now);
      return;
    case MsgType::kJobCancel:
      if (auto cancel = Decode<wire::JobCancelMsg>(msg, me)) Cancel(*cancel, now);
      return;
    case MsgType::kJobAck:
      if (auto ack = Decode<wire::JobAckMsg>(msg, me)) {
        Acknowledged(ack->id, ack->attempt);
        if (ack->more) {
          for (const wire::JobRef& more : *ack->more) Acknowledged(more.id, more.attempt);
        }
      }
      return;
    case MsgType::kWorkerDrain:
      if (auto drain = Decode<wire::WorkerDrainMsg>(msg, me)) BeginDrain(drain->reason, now);
      return;
    case MsgType::kServiceRespawn:
      if (auto respawn = Decode<wire::ServiceRespawnMsg>(msg, me)) Respawn(*respawn, now);
      return;
    case MsgType::kWorkerSpawn:
      if (auto spawn = Decode<wire::WorkerSpawnMsg>(msg, me)) SpawnChild(*spawn);
      return;
    case MsgType::kVolumeEnsure:
      if (auto ensure = Decode<wire::VolumeEnsureMsg>(msg, me))
        Emit(Command{.kind = Command::Kind::kEnsureVolumes, .volumes = std::move(ensure->volumes)});
      return;
    case MsgType::kVolumeDelete:
      if (auto del = Decode<wire::VolumeDeleteMsg>(msg, me))
        Emit(Command{.kind = Command::Kind::kDeleteVolume, .id = del->name});
      return;
    case MsgType::kDisconnect:
      if (!Decode<wire::DisconnectMsg>(msg, me)) return;
      if (reregistered_at_ >= 0 && now - reregistered_at_ < kReregisterQuietMs) return;  // asked already
      reregistered_at_ = now;
      Emit(Command{.kind = Command::Kind::kReregister});
      return;
    case MsgType::kError:
      if (auto error = Decode<wire::ErrorMsg>(msg, me))
        spdlog::warn("worker: the broker refused a message: {}: {}", error->code, error->reason);
      return;
    default:
      spdlog::warn("worker: ignoring {} from the broker", wire::NameOf(msg.type));
  }
}

void WorkerCore::Welcome(const wire::WorkerWelcomeMsg& welcome, int64_t now) {
  reregistered_at_ = -1;
  if (lapsed_ && welcome.session.value_or(session_) <= lapsed_session_) {
    // It answers a registration from before the lease ran out (it was queued): the broker may since
    // have declared this worker lost. The answer to the registration made since is still to come.
    spdlog::info("worker {}: ignoring the answer to a registration made before this worker's lease ran out",
                 c_.name);
    return;
  }
  lapsed_ = false;
  lease_ms_ = std::max<int64_t>(0, welcome.lease_ms.value_or(0));
  last_contact_ = now;
  Emit(Command{.kind = Command::Kind::kRunsGrace, .number = RunsGraceMs(welcome.heartbeat_ms, lease_ms_)});
  // WORKER_READY carried every running job and unacknowledged result: what was queued is moot.
  Emit(Command{.kind = Command::Kind::kNewSession});
  if (!announced_) {
    Emit(Command{.kind = Command::Kind::kAnnounce});
    announced_ = true;
  }
  spdlog::info("worker {}: registered with {} ({} slots, capabilities {})", c_.name, c_.broker, c_.slots,
               fmt::join(c_.capabilities, ","));
  // The broker may have restarted and lost what it knew about our services: tell it again.
  for (const auto& [id, run] : runs_) {
    if (run.service && !run.service->ended_for_good()) SendServiceStatus(run);
  }
}

void WorkerCore::Assign(wire::JobAssignMsg assign, int64_t now) {
  const std::string id = assign.job.id;
  const int64_t attempt = assign.attempt;
  if (assign.epoch) epochs_[{id, attempt}] = *assign.epoch;
  if (lapsed_) {  // sent before the broker's answer to our new registration: it may be given away already
    wire::JobResult r = FailedStart(id, attempt,
                                    "not started: worker " + c_.name +
                                        " had no contact with the broker for longer than its lease; the "
                                        "broker places the job again");
    r.fenced = true;
    return Report(std::move(r));
  }
  if (c_.noop) return Report(wire::JobResult{.id = id, .attempt = attempt, .exit_code = 0, .signal = 0});
  if (const std::string why = Unenforceable(assign.job, c_.controls, c_.name, c_.limits_via); !why.empty()) {
    spdlog::warn("worker {}: job {} not started: {}", c_.name, id, why);
    return Report(FailedStart(id, attempt, why));
  }
  if (auto running = runs_.find(id); running != runs_.end()) {
    Run& earlier = running->second;
    if (earlier.attempt >= attempt) {
      return Report(FailedStart(id, attempt, "job '" + id + "' is already running on worker " + c_.name));
    }
    // An earlier run of this job is still ending here (cancelled after this worker was thought
    // lost): start the new attempt once the old one is gone; they share the job's directory.
    deferred_[id] = std::move(assign);
    const std::string why = "superseded by attempt " + std::to_string(attempt);
    if (earlier.service) return EndService(earlier, why, now);
    return Stop(earlier, why, /*by_cancel=*/true, now);
  }
  if (const std::string runtime = assign.job.runtime.value_or("");
      !runtime.empty() && std::find(c_.runtimes.begin(), c_.runtimes.end(), runtime) == c_.runtimes.end()) {
    // Placement matches runtimes; this worker came back without it (a race): never another interpreter.
    return Report(FailedStart(id, attempt,
                              "worker " + c_.name + " does not offer runtime '" + runtime +
                                  "'; start a worker with --runtime " + runtime + "=PATH"));
  }
  if (assign.file_sha256.empty() && !assign.job.command.value_or("").empty())
    return Launch(assign);  // no file
  const std::string hash = assign.file_sha256;
  const int64_t size = assign.file_size;
  std::vector<wire::JobAssignMsg>& waiting = awaiting_file_[hash];
  waiting.push_back(std::move(assign));
  // Launched by OnFile, at once when the file is in the cache already; one fetch per file.
  if (waiting.size() == 1) Emit(Command{.kind = Command::Kind::kFetch, .number = size, .sha256 = hash});
}

void WorkerCore::OnFile(const std::string& sha256, const Status& status) {
  auto it = awaiting_file_.find(sha256);
  if (it == awaiting_file_.end()) return;
  std::vector<wire::JobAssignMsg> assigns = std::move(it->second);
  awaiting_file_.erase(it);
  for (const wire::JobAssignMsg& a : assigns) {
    if (status.ok()) {
      Launch(a);
    } else {
      Report(FailedStart(a.job.id, a.attempt, status.message()));
    }
  }
}

// Starts an assignment whose file is in the cache.
void WorkerCore::Launch(const wire::JobAssignMsg& assigned) {
  wire::JobAssignMsg assign = assigned;
  const std::string& id = assign.job.id;
  const int64_t attempt = assign.attempt;
  std::optional<ServiceSpec> service = ServiceSpecOf(assign.job);
  if (service && draining_) {  // assigned as the drain began: it would never end here
    return Report(FailedStart(id, attempt, "worker " + c_.name + " is draining; service handed back",
                              /*cancelled=*/true));
  }
  if (const int64_t want = assign.job.gpus.value_or(0); want > static_cast<int64_t>(c_.gpus.size())) {
    return Report(FailedStart(id, attempt,
                              "not started: it requests " + std::to_string(want) + " GPUs and worker " +
                                  c_.name + " has " + std::to_string(c_.gpus.size()) +
                                  " (`titan worker --gpus`)"));
  }
  if (!TakeGpus(assign)) {  // a run the broker no longer counts still holds them: wait for it to end
    awaiting_file_[kAwaitingGpus].push_back(std::move(assign));
    return;
  }
  Run& run = runs_[id];
  run = Run{
      .id = id, .attempt = attempt, .max_memory = std::max<int64_t>(0, assign.job.max_memory.value_or(0))};
  if (service) {
    run.service.emplace(*service);
  } else {
    run.timeout_ms = std::max<int64_t>(0, assign.job.timeout_ms.value_or(0));
  }
  Emit(Command{.kind = Command::Kind::kLaunch, .id = id, .attempt = attempt, .assign = assign});
}

void WorkerCore::OnLaunched(const std::string& id, int64_t attempt, const Result<int64_t>& pid, Instant at) {
  const int64_t now = at.mono_ms;
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.attempt != attempt) return;
  Run& run = it->second;
  const bool restart = run.exit.has_value();  // a service's next run (kRespawn), not its first
  run.respawning = false;
  if (!pid.ok()) {
    if (restart) {  // a service restart failed: no further attempt; reported with this reason
      run.service->EndForGood();
      run.exit = exec::ExitStatus{};
      run.end_reason = "cannot restart the service: " + pid.message();
      run.cancelled = false;
      run.output_done = true;
      spdlog::error("worker {}: service {} cannot be restarted: {}", c_.name, id, pid.message());
      return;
    }
    spdlog::warn("worker: job {} could not start: {}", id, pid.message());
    runs_.erase(it);
    FreeGpus(id);
    return Report(FailedStart(id, attempt, pid.message()));
  }
  run.pid = pid.value();
  run.exit.reset();
  run.kill_at = run.drain_until = 0;
  run.killed = run.output_done = run.abandoned = run.cancelled = false;
  run.end_reason.clear();
  // No JOB_STARTED (protocol.yaml): the broker published RUNNING when it assigned the run.
  if (!restart && run.timeout_ms > 0)
    run.timeout_at = AddMs(now, run.timeout_ms);  // saturates: never at once
  if (run.service) ServiceStarted(run, now);
}

void WorkerCore::Cancel(const wire::JobCancelMsg& cancel, int64_t now) {
  const std::string& id = cancel.id;
  const int64_t attempt = cancel.attempt;
  const std::string& reason = cancel.reason;
  for (auto& [hash, assigns] : awaiting_file_) {  // not started yet: it ends here
    for (auto a = assigns.begin(); a != assigns.end(); ++a) {
      if (a->job.id != id || a->attempt != attempt) continue;
      assigns.erase(a);
      return Report(FailedStart(id, attempt, reason, /*cancelled=*/true));
    }
  }
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.attempt != attempt) return;  // not here (any more): nothing to stop
  if (it->second.service) return EndService(it->second, reason, now);
  Stop(it->second, reason, /*by_cancel=*/true, now);
}

void WorkerCore::SpawnChild(const wire::WorkerSpawnMsg& spawn) {
  ChildRequest child{.name = spawn.name,
                     .slots = static_cast<int>(std::clamp<int64_t>(spawn.slots, 1, 100000)),
                     .tags = spawn.tags.value_or(std::vector<std::string>{}),
                     .port = static_cast<int>(std::clamp<int64_t>(spawn.port.value_or(0), 0, 65535)),
                     .manual = spawn.manual.value_or(false),
                     .reason = spawn.reason};
  if (draining_) {
    spdlog::warn("worker {}: not starting child worker {}: this worker is draining", c_.name, child.name);
    return;
  }
  Emit(Command{.kind = Command::Kind::kSpawnChild, .child = std::move(child)});
}

void WorkerCore::OnChildStarted(const std::string& name) { children_.insert(name); }

void WorkerCore::OnChildExit(const std::string& name) { children_.erase(name); }

// Run-once jobs may finish within the drain grace; services are handed back at once; child workers
// drain too (SIGTERM) and are killed if still running after their own grace (drain + kill).
void WorkerCore::BeginDrain(const std::string& why, int64_t now) {
  if (draining_) return;
  draining_ = true;
  drain_deadline_ = now + c_.drain_grace_ms;
  spdlog::info("worker {}: draining ({}); {} running jobs may take up to {} ms", c_.name, why, runs_.size(),
               c_.drain_grace_ms);
  // Tell the broker now, ahead of the JOB_DONEs of handed-back services (same socket, same order), so
  // that it requeues them instead of taking them for stopped — also when the drain began here (signal).
  Send(wire::HeartbeatMsg{.busy = Busy(), .draining = true}.ToMessage());
  const std::string reason = "worker " + c_.name + " is draining; service handed back";
  for (auto& [id, run] : runs_) {
    if (run.service && !run.service->ended_for_good()) EndService(run, reason, now);
  }
  children_kill_at_ = now + c_.drain_grace_ms + c_.kill_grace_ms + kChildExitMarginMs;
  if (!children_.empty()) {
    spdlog::info("worker {}: stopping {} child workers (SIGTERM)", c_.name, children_.size());
    Emit(Command{.kind = Command::Kind::kSignalChildren, .number = SIGTERM});
  }
}

void WorkerCore::OnSignal(int sig, Instant at) {
  const int64_t now = at.mono_ms;
  const bool at_once = draining_ || sig == SIGINT;  // a second signal, or Ctrl-C: no grace
  BeginDrain("signal " + std::to_string(sig), now);
  if (!at_once) return;
  spdlog::info("worker {}: signal {}; stopping {} jobs now", c_.name, sig, runs_.size());
  drain_deadline_ = now;
  StopAll(now);
  // Child workers stop their jobs at once too.
  Emit(Command{.kind = Command::Kind::kSignalChildren, .number = sig == SIGINT ? SIGINT : SIGTERM});
  children_kill_at_ = std::min(children_kill_at_, now + c_.kill_grace_ms + kChildExitMarginMs);
}

void WorkerCore::StopAll(int64_t now) {
  for (auto& [id, run] : runs_) Stop(run, "worker " + c_.name + " shut down", /*by_cancel=*/false, now);
}

int64_t WorkerCore::Busy() const {
  int64_t n = static_cast<int64_t>(runs_.size());
  for (const auto& [hash, assigns] : awaiting_file_) n += static_cast<int64_t>(assigns.size());
  return n;
}

wire::HeartbeatMsg WorkerCore::Heartbeat(const MachineSample& sample) {
  wire::HeartbeatMsg hb{.busy = Busy(), .machine = MachineStatsOf(sample, last_cpu_)};
  if (draining_) hb.draining = true;
  if (sample.cpu) last_cpu_ = sample.cpu;
  return hb;
}

wire::WorkerReadyMsg WorkerCore::ReadyMessage() {
  wire::WorkerReadyMsg ready{
      .name = c_.name, .host = c_.host, .pid = c_.pid, .slots = c_.slots, .capabilities = c_.capabilities};
  ready.cpu_milli = c_.cpu_milli;
  ready.memory_mb = c_.memory_mb;
  ready.gpus = static_cast<int64_t>(c_.gpus.size());
  ready.session = ++session_;
  for (const auto& [id, run] : runs_) {
    // A fenced run is dying: not the broker's to adopt back; its result follows.
    if (!run.fenced)
      ready.running.push_back(
          wire::JobRef{.id = id, .attempt = run.attempt, .epoch = EpochOf(id, run.attempt)});
  }
  for (const auto& [hash, assigns] : awaiting_file_) {
    for (const wire::JobAssignMsg& a : assigns) {
      ready.running.push_back(wire::JobRef{.id = a.job.id, .attempt = a.attempt, .epoch = a.epoch});
    }
  }
  for (const auto& [key, result] : unacked_) ready.finished.push_back(result);
  if (!c_.parent.empty()) ready.parent = c_.parent;
  if (c_.address_port > 0) ready.port = c_.address_port;
  if (!c_.controls.empty()) ready.controls = c_.controls;
  if (!c_.limits_via.empty()) ready.limits_via = c_.limits_via;
  if (!c_.runtimes.empty()) ready.runtimes = c_.runtimes;
  if (!c_.runtime_info.empty()) ready.runtime_info = c_.runtime_info;
  if (!c_.volumes_dir.empty()) ready.volumes_dir = c_.volumes_dir;
  if (draining_) ready.draining = true;  // a reconnect keeps it out of dispatch
  return ready;
}

}  // namespace titan::worker
