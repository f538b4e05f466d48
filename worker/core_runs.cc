// WorkerCore: a run's end — stopping it (SIGTERM, then SIGKILL after the kill grace), its timeout,
// its exit, the wait for its output, its JobResult — and the per-turn timers of runs, the drain and
// child workers.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>

#include "worker/worker_core.h"

namespace titan::worker {
namespace {

Command Signal(const std::string& id, int sig) {
  return Command{.kind = Command::Kind::kSignal, .id = id, .number = sig};
}

Command For(Command::Kind kind, const std::string& id) { return Command{.kind = kind, .id = id}; }

}  // namespace

void WorkerCore::Stop(Run& run, std::string reason, bool by_cancel, int64_t now) {
  if (run.kill_at != 0 || run.exit || run.pid < 0) return;  // stopping, ended, or between runs
  run.end_reason = std::move(reason);
  run.cancelled = by_cancel;
  Emit(Signal(run.id, SIGTERM));
  run.kill_at = now + c_.kill_grace_ms;
}

void WorkerCore::OnExit(const std::string& id, const exec::ExitStatus& status, Instant at,
                        const RunUsage& usage) {
  const int64_t now = at.mono_ms;
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.pid < 0 || it->second.exit) return;
  Run& run = it->second;
  run.exit = status;
  run.usage = usage;
  if (run.service) {  // nothing left to probe
    run.service->StopProbing();
    Emit(For(Command::Kind::kStopProbe, id));
  }
  // The job is over: end what it left behind in its group, then drain its pipes. A run whose output has
  // already ended is ended by this turn's tick (Finish: kEndRun ends its group and empties its cgroups),
  // so it needs no signal first.
  if (run.output_done) return;
  Emit(Signal(id, SIGKILL));
  run.drain_until = now + kOutputDrainMs;
}

void WorkerCore::OnOutputDone(const std::string& id, bool log_truncated) {
  auto it = runs_.find(id);
  if (it == runs_.end() || it->second.pid < 0) return;
  it->second.output_done = true;
  it->second.log_truncated = it->second.log_truncated || log_truncated;
}

void WorkerCore::BeginTurn(Instant at) {
  const int64_t now = at.mono_ms;
  const int64_t gap = last_turn_ > 0 ? now - last_turn_ : 0;
  last_turn_ = now;
  if (lease_ms_ > 0 && gap > lease_ms_) {
    spdlog::warn("worker {}: this turn began {} ms after the last one (the worker was not running)", c_.name,
                 gap);
    Fence(std::max(gap, now - last_contact_), now);
  }
}

void WorkerCore::OnContact(Instant at) { last_contact_ = at.mono_ms; }

void WorkerCore::CheckLease(int64_t now) {
  if (lease_ms_ > 0 && now - last_contact_ > lease_ms_) Fence(now - last_contact_, now);
}

void WorkerCore::Fence(int64_t silent_ms, int64_t now) {
  if (!lapsed_) {  // register again: until the broker answers that, its assignments may be stale
    lapsed_ = true;
    lapsed_session_ = session_;
    // The runs' output and results keep flowing behind it: the broker may still know this worker.
    Emit(Command{.kind = Command::Kind::kRenewRegistration});
  }
  char seconds[32];
  snprintf(seconds, sizeof seconds, "%.1f", static_cast<double>(silent_ms) / 1000);
  const std::string line = std::string("titan: killed: no contact with the broker for ") + seconds +
                           " s; the broker requeues this run";
  size_t fenced = 0;
  for (auto& [id, run] : runs_) {
    if (run.fenced || (run.exit && !run.service)) continue;  // fenced already, or ended: its result stands
    FenceRun(run, line, now);
    ++fenced;
  }
  for (auto& [hash, assigns] : awaiting_file_) {  // not started: nothing to kill, the result says so
    for (const wire::JobAssignMsg& a : assigns) {
      wire::JobResult r = FailedStart(a.job.id, a.attempt, line);
      r.fenced = true;
      Report(std::move(r));
      ++fenced;
    }
  }
  awaiting_file_.clear();
  if (fenced > 0) {
    spdlog::error("worker {}: no contact with the broker for {} ms (lease {} ms); killed {} runs (fencing)",
                  c_.name, silent_ms, lease_ms_, fenced);
  }
}

void WorkerCore::FenceRun(Run& run, const std::string& line, int64_t now) {
  run.fenced = true;
  run.cancelled = false;
  run.end_reason = line;
  Emit(Command{.kind = Command::Kind::kNote, .id = run.id, .text = line});
  if (run.service) {  // never restarted
    run.service->EndForGood();
    Emit(For(Command::Kind::kStopProbe, run.id));
  }
  if (run.pid >= 0 && !run.exit && !run.killed) {
    Emit(Signal(run.id, SIGKILL));
    run.killed = true;
    if (!run.kill_at) run.kill_at = now;
  }
}

void WorkerCore::OnTick(Instant at) {
  const int64_t now = at.mono_ms;
  CheckLease(now);
  std::vector<std::string> over;
  for (auto& [id, run] : runs_) {
    TendTimers(run, now);
    if (Finish(run, now)) over.push_back(id);
  }
  for (const std::string& id : over) {
    runs_.erase(id);
    FreeGpus(id);
    if (auto next = deferred_.find(id); next != deferred_.end()) {
      wire::JobAssignMsg assign = std::move(next->second);
      deferred_.erase(next);
      Assign(std::move(assign), now);
    }
  }
  TendChildren(now);
  if (!draining_) return;
  if (runs_.empty() && awaiting_file_.empty() && children_.empty()) {
    done_ = true;
  } else if (now >= drain_deadline_) {
    StopAll(now);
  }
}

void WorkerCore::TendTimers(Run& run, int64_t now) {
  if (run.service && run.service->backing_off()) {  // between runs: no process to watch
    if (now >= run.service->restart_at() && !run.respawning) RestartService(run);
    return;
  }
  if (run.service && run.pid >= 0 && !run.exit && !run.kill_at) TendService(run, now);
  if (run.timeout_at && now >= run.timeout_at && !run.kill_at) Stop(run, "timed out", false, now);
  if (run.kill_at && now >= run.kill_at && !run.killed && !run.exit) {
    Emit(Signal(run.id, SIGKILL));
    run.killed = true;
  }
  if (run.exit && !run.output_done && !run.abandoned && now >= run.drain_until) {
    // A process that left the group (setsid) may hold the pipes open forever: stop waiting for EOF.
    spdlog::warn(
        "worker: job {} left a process outside its group holding its output open; not waiting for it",
        run.id);
    Emit(For(Command::Kind::kAbandonOutput, run.id));
    run.abandoned = true;
  }
}

bool WorkerCore::Finish(Run& run, int64_t now) {
  if (!run.exit || !run.output_done) return false;
  if (run.pid >= 0) {
    Emit(For(Command::Kind::kEndRun, run.id));
    run.pid = -1;
    if (run.service && ServiceExited(run, now)) return false;  // restarts after its backoff
  } else if (!run.service || !run.service->ended_for_good()) {
    return false;  // a service between its runs
  }
  Report(ResultOf(run));
  Emit(For(Command::Kind::kForget, run.id));
  return true;
}

wire::JobResult WorkerCore::ResultOf(const Run& run) const {
  const exec::ExitStatus st = run.exit.value_or(exec::ExitStatus{});
  const bool exited = st.kind == exec::ExitStatus::Kind::kExited;
  std::string reason = run.end_reason;
  // The kernel's kill for the memory limit (its cgroup counted it), not a bare signal number.
  if (reason.empty() && !st.success() && run.usage.memory_killed && run.max_memory > 0)
    reason = MemoryLimitReason(run.max_memory);
  if (reason.empty() && !st.success()) reason = st.Render();
  wire::JobResult result{.id = run.id,
                         .attempt = run.attempt,
                         .exit_code = exited ? st.code : -1,
                         .signal = st.kind == exec::ExitStatus::Kind::kSignaled ? st.signal : 0,
                         .cancelled = run.cancelled};
  if (!reason.empty()) result.reason = std::move(reason);
  if (run.fenced) result.fenced = true;
  if (run.log_truncated) result.log_truncated = true;
  result.usage = run.usage.usage;
  return result;
}

void WorkerCore::TendChildren(int64_t now) {
  if (!draining_ || children_.empty() || now < children_kill_at_) return;
  spdlog::warn("worker {}: {} child workers still running after {} ms; killing them (SIGKILL)", c_.name,
               children_.size(), c_.drain_grace_ms + c_.kill_grace_ms + kChildExitMarginMs);
  Emit(Command{.kind = Command::Kind::kKillChildren});
  children_.clear();  // KillChildren reaps every one
}

int64_t WorkerCore::NextDue(Instant at) const {
  const int64_t now = at.mono_ms;
  int64_t due = now + 1000;
  // Never asleep for as long as the lease: a turn that begins more than the lease after the last one
  // means this worker was not running (BeginTurn), not that it slept through a quiet spell.
  if (lease_ms_ > 0) due = std::min(due, now + lease_ms_ / 2);
  if (lease_ms_ > 0 && !awaiting_file_.empty()) due = std::min(due, last_contact_ + lease_ms_ + 1);
  for (const auto& [id, run] : runs_) {
    if (lease_ms_ > 0 && !run.fenced) due = std::min(due, last_contact_ + lease_ms_ + 1);
    if (run.timeout_at && !run.kill_at) due = std::min(due, run.timeout_at);
    if (run.kill_at && !run.killed && !run.exit) due = std::min(due, run.kill_at);
    if (run.exit && !run.output_done && !run.abandoned) due = std::min(due, run.drain_until);
    if (run.exit && run.output_done && (run.pid >= 0 || (run.service && run.service->ended_for_good())))
      due = now;  // over: reported on the next tick
    if (run.service && !run.respawning) due = std::min(due, run.service->NextDue());
  }
  if (draining_) {
    if (!runs_.empty() || !awaiting_file_.empty()) due = std::min(due, drain_deadline_);
    if (!children_.empty()) due = std::min(due, children_kill_at_);
  }
  return due;
}

std::string WorkerCore::RenderJobs() const {
  std::string out;
  for (const auto& [id, run] : runs_) {
    std::string state = run.pid < 0 && !run.exit ? "launching" : "running";
    if (run.kill_at) state = "stopping(kill@" + std::to_string(run.kill_at) + ")";
    if (run.exit) state = run.output_done ? "exited+output" : "exited";
    if (run.fenced && !run.exit) state = "fenced";
    if (run.service && run.service->backing_off())
      state = "backoff(restart@" + std::to_string(run.service->restart_at()) + ")";
    out += (out.empty() ? "" : " ") + id + "/" + std::to_string(run.attempt) + ":" + state;
  }
  return out;
}

}  // namespace titan::worker
