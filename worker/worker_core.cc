// WorkerCore: the broker's messages (assign, cancel, ack, drain, spawn, welcome), signals, the
// WORKER_READY it registers with, and the outbox. Runs are ended in core_runs.cc, services are
// tended in core_services.cc.
#include "worker/worker_core.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>

#include <algorithm>

namespace titan::worker {
namespace {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

// The JobSpec of a JOB_ASSIGN; null when it has none (a validated message always has one).
const wire::Map* SpecOf(const Message& assign) {
  const Datum* job = assign.Find("job");
  return job && std::holds_alternative<wire::Map>(job->v) ? &std::get<wire::Map>(job->v) : nullptr;
}

std::string IdOf(const Message& assign) {
  const wire::Map* spec = SpecOf(assign);
  return spec ? wire::FieldStr(*spec, "id") : std::string();
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
      return "send " + std::string(wire::NameOf(c.msg.type)) + " " + wire::Render(Datum(c.msg.body));
    case K::kFetch:
      return "fetch " + c.sha256;
    case K::kLaunch:
      return "launch " + IdOf(c.msg) + "/" + std::to_string(c.msg.Int("attempt"));
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
    case K::kNewSession:
      return "new-session";
    case K::kAnnounce:
      return "announce";
  }
  return "?";
}

wire::Datum FailedStart(const std::string& id, int64_t attempt, const std::string& reason, bool cancelled) {
  return Datum(wire::Map{{"id", Datum(Text{id})},
                         {"attempt", Datum(attempt)},
                         {"exit_code", Datum(int64_t{-1})},
                         {"signal", Datum(int64_t{0})},
                         {"cancelled", Datum(cancelled)},
                         {"reason", Datum(Text{reason})}});
}

WorkerCore::WorkerCore(WorkerCoreConfig config) : c_(std::move(config)) {}

void WorkerCore::Emit(Command c) { out_.push_back(std::move(c)); }

void WorkerCore::Send(Message msg) { Emit(Command{.kind = Command::Kind::kSend, .msg = std::move(msg)}); }

std::vector<Command> WorkerCore::TakeCommands() { return std::exchange(out_, {}); }

void WorkerCore::Report(Datum result) {
  const auto& m = std::get<wire::Map>(result.v);
  unacked_[{wire::FieldStr(m, "id"), wire::FieldInt(m, "attempt").value_or(0)}] = result;
  Send(wire::MakeMessage(MsgType::kJobDone).Set("result", std::move(result)));
}

void WorkerCore::OnMessage(const Message& msg, Instant at) {
  const int64_t now = at.mono_ms;
  switch (msg.type) {
    case MsgType::kWorkerWelcome:
      return Welcome();
    case MsgType::kJobAssign:
      return Assign(msg, now);
    case MsgType::kJobCancel:
      return Cancel(msg, now);
    case MsgType::kJobAck:
      unacked_.erase({std::string(msg.Bytes("id")), msg.Int("attempt")});
      return;
    case MsgType::kWorkerDrain:
      return BeginDrain(std::string(msg.Bytes("reason")), now);
    case MsgType::kWorkerSpawn:
      return SpawnChild(msg);
    case MsgType::kDisconnect:
      return Emit(Command{.kind = Command::Kind::kReregister});
    case MsgType::kError:
      spdlog::warn("worker: the broker refused a message: {}: {}", msg.Bytes("code"), msg.Bytes("reason"));
      return;
    default:
      spdlog::warn("worker: ignoring {} from the broker", wire::NameOf(msg.type));
  }
}

void WorkerCore::Welcome() {
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

void WorkerCore::Assign(const Message& assign, int64_t now) {
  const std::string id = IdOf(assign);
  const int64_t attempt = assign.Int("attempt");
  if (c_.noop) {
    return Report(Datum(wire::Map{{"id", Datum(Text{id})},
                                  {"attempt", Datum(attempt)},
                                  {"exit_code", Datum(int64_t{0})},
                                  {"signal", Datum(int64_t{0})},
                                  {"cancelled", Datum(false)}}));
  }
  if (auto running = runs_.find(id); running != runs_.end()) {
    Run& earlier = running->second;
    if (earlier.attempt >= attempt) {
      return Report(FailedStart(id, attempt, "job '" + id + "' is already running on worker " + c_.name));
    }
    // An earlier run of this job is still ending here (cancelled after this worker was thought
    // lost): start the new attempt once the old one is gone; they share the job's directory.
    deferred_[id] = assign;
    const std::string why = "superseded by attempt " + std::to_string(attempt);
    if (earlier.service) return EndService(earlier, why, now);
    return Stop(earlier, why, /*by_cancel=*/true, now);
  }
  const std::string hash(assign.Bytes("file_sha256"));
  std::vector<Message>& waiting = awaiting_file_[hash];
  waiting.push_back(assign);
  // Launched by OnFile, at once when the file is in the cache already; one fetch per file.
  if (waiting.size() == 1) {
    Emit(Command{.kind = Command::Kind::kFetch, .number = assign.Int("file_size", -1), .sha256 = hash});
  }
}

void WorkerCore::OnFile(const std::string& sha256, const Status& status) {
  auto it = awaiting_file_.find(sha256);
  if (it == awaiting_file_.end()) return;
  std::vector<Message> assigns = std::move(it->second);
  awaiting_file_.erase(it);
  for (const Message& a : assigns) {
    if (status.ok()) {
      Launch(a);
    } else {
      Report(FailedStart(IdOf(a), a.Int("attempt"), status.message()));
    }
  }
}

// Starts an assignment whose file is in the cache.
void WorkerCore::Launch(const Message& assign) {
  const wire::Map* spec = SpecOf(assign);
  const std::string id = IdOf(assign);
  const int64_t attempt = assign.Int("attempt");
  std::optional<ServiceSpec> service = spec ? ServiceSpecOf(*spec) : std::nullopt;
  if (service && draining_) {  // assigned as the drain began: it would never end here
    return Report(FailedStart(id, attempt, "worker " + c_.name + " is draining; service handed back",
                              /*cancelled=*/true));
  }
  Run& run = runs_[id];
  run = Run{.id = id, .attempt = attempt};
  if (service) {
    run.service.emplace(*service);
  } else if (spec) {
    run.timeout_ms = std::max<int64_t>(0, wire::FieldInt(*spec, "timeout_ms").value_or(0));
  }
  Emit(Command{.kind = Command::Kind::kLaunch, .id = id, .attempt = attempt, .msg = assign});
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
    return Report(FailedStart(id, attempt, pid.message()));
  }
  run.pid = pid.value();
  run.exit.reset();
  run.kill_at = run.drain_until = 0;
  run.killed = run.output_done = run.abandoned = run.cancelled = false;
  run.end_reason.clear();
  if (!restart) {
    Send(wire::MakeMessage(MsgType::kJobStarted)
             .Set("id", Datum(Text{id}))
             .Set("attempt", Datum(attempt))
             .Set("pid", Datum(run.pid)));
    if (run.timeout_ms > 0) run.timeout_at = now + run.timeout_ms;
  }
  if (run.service) ServiceStarted(run, now);
}

void WorkerCore::Cancel(const Message& msg, int64_t now) {
  const std::string id(msg.Bytes("id"));
  const int64_t attempt = msg.Int("attempt");
  const std::string reason(msg.Bytes("reason"));
  for (auto& [hash, assigns] : awaiting_file_) {  // not started yet: it ends here
    for (auto a = assigns.begin(); a != assigns.end(); ++a) {
      if (IdOf(*a) != id || a->Int("attempt") != attempt) continue;
      assigns.erase(a);
      return Report(FailedStart(id, attempt, reason, /*cancelled=*/true));
    }
  }
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.attempt != attempt) return;  // not here (any more): nothing to stop
  if (it->second.service) return EndService(it->second, reason, now);
  Stop(it->second, reason, /*by_cancel=*/true, now);
}

void WorkerCore::SpawnChild(const Message& msg) {
  ChildRequest child{std::string(msg.Bytes("name")),
                     static_cast<int>(std::clamp<int64_t>(msg.Int("slots"), 1, 100000))};
  if (const Datum* tags = msg.Find("tags"); tags && std::holds_alternative<wire::List>(tags->v)) {
    for (const Datum& tag : std::get<wire::List>(tags->v)) child.tags.emplace_back(tag.bytes());
  }
  child.port = static_cast<int>(std::clamp<int64_t>(msg.Int("port"), 0, 65535));
  child.manual = msg.Bool("manual");
  child.reason = std::string(msg.Bytes("reason"));
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
  Send(wire::MakeMessage(MsgType::kHeartbeat).Set("busy", Datum(Busy())).Set("draining", Datum(true)));
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

Message WorkerCore::ReadyMessage() const {
  wire::List caps, running, finished;
  for (const auto& cap : c_.capabilities) caps.push_back(Datum(Text{cap}));
  for (const auto& [id, run] : runs_) {
    running.push_back(Datum(wire::Map{{"id", Datum(Text{id})}, {"attempt", Datum(run.attempt)}}));
  }
  for (const auto& [hash, assigns] : awaiting_file_) {
    for (const Message& a : assigns) {
      running.push_back(Datum(wire::Map{{"id", Datum(Text{IdOf(a)})}, {"attempt", Datum(a.Int("attempt"))}}));
    }
  }
  for (const auto& [key, result] : unacked_) finished.push_back(result);
  Message ready = wire::MakeMessage(MsgType::kWorkerReady);
  ready.Set("name", Datum(Text{c_.name}))
      .Set("host", Datum(Text{c_.host}))
      .Set("pid", Datum(c_.pid))
      .Set("slots", Datum(int64_t{c_.slots}))
      .Set("capabilities", Datum(std::move(caps)))
      .Set("running", Datum(std::move(running)))
      .Set("finished", Datum(std::move(finished)));
  if (!c_.parent.empty()) ready.Set("parent", Datum(Text{c_.parent}));
  if (c_.address_port > 0) ready.Set("port", Datum(int64_t{c_.address_port}));
  return ready;
}

}  // namespace titan::worker
