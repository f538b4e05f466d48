// WorkerCoreTest: WorkerCore driven by hand with a fake clock and a fake OS edge: no process, no
// socket, no sleep. The fake edge answers the core's commands the way the real one does (files in
// the cache, spawns that succeed with made-up pids) and records them; the tests read that record.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "worker/worker_core.h"

namespace titan::worker {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

inline Datum S(const std::string& s) { return Datum(Text{s}); }

constexpr int64_t kT0 = 1'000'000;  // monotonic ms
constexpr int64_t kHour = 3'600'000;

// "done a/1: exit code 3 (cancelled)", "started a/1", "status s: ready", or Render(c).
inline std::string Brief(const Command& c) {
  if (c.kind != Command::Kind::kSend) return Render(c);
  const Message& m = c.msg;
  const std::string run = std::string(m.Bytes("id")) + "/" + std::to_string(m.Int("attempt"));
  switch (m.type) {
    case MsgType::kJobStarted:  // not sent any more: a test sees it if it comes back
      return "started " + run;
    case MsgType::kJobDone: {
      const auto& r = std::get<wire::Map>(m.Find("result")->v);
      std::string out =
          "done " + wire::FieldStr(r, "id") + "/" + std::to_string(*wire::FieldInt(r, "attempt"));
      const std::string reason = wire::FieldStr(r, "reason");
      out += ": " + (reason.empty() ? "ok" : reason);
      if (std::get<bool>(wire::FindField(r, "cancelled")->v)) out += " (cancelled)";
      if (const Datum* fenced = wire::FindField(r, "fenced"); fenced && std::get<bool>(fenced->v))
        out += " (fenced)";
      if (const Datum* cut = wire::FindField(r, "log_truncated"); cut != nullptr && std::get<bool>(cut->v))
        out += " (log truncated)";
      return out;
    }
    case MsgType::kServiceStatus:
      return "status " + run + (m.Bool("ready") ? ": ready" : ": " + std::string(m.Bytes("reason")));
    case MsgType::kHeartbeat:
      return m.Bool("draining") ? "heartbeat draining" : "heartbeat";
    default:
      return Render(c);
  }
}

class WorkerCoreTest : public ::testing::Test {
 protected:
  WorkerCoreTest() { Reset(); }

  void Reset() { core_ = std::make_unique<WorkerCore>(config_); }

  // Both clocks at this test's time: the wall clock `wall_offset_` away from the monotonic one.
  Instant Now() const { return Instant{now_, now_ + 1'700'000'000'000 + wall_offset_}; }

  // Plays the OS edge until the core has nothing more to say; returns what it was asked, "; "-joined.
  std::string Run() {
    std::string out;
    for (std::vector<Command> cmds; !(cmds = core_->TakeCommands()).empty();) {
      for (const Command& c : cmds) {
        out += (out.empty() ? "" : "; ") + Brief(c);
        Answer(c);
      }
    }
    return out;
  }

  void Answer(const Command& c) {
    using K = Command::Kind;
    if (c.kind == K::kFetch && !missing_.count(c.sha256)) core_->OnFile(c.sha256, Status::Ok());
    if (c.kind == K::kLaunch) core_->OnLaunched(c.id, c.attempt, Result<int64_t>(next_pid_++), Now());
    if (c.kind == K::kRespawn) {
      core_->OnLaunched(
          c.id, c.attempt,
          fail_respawn_ ? Result<int64_t>(Status::Error("no such file")) : Result<int64_t>(next_pid_++),
          Now());
    }
    if (c.kind == K::kSpawnChild) {
      children_.insert(c.child.name);
      core_->OnChildStarted(c.child.name);
    }
    if (c.kind == K::kKillChildren) {
      for (const std::string& name : std::exchange(children_, {})) core_->OnChildExit(name);
    }
  }

  std::string Deliver(const Message& msg) {
    core_->OnMessage(msg, Now());
    return Run();
  }

  std::string Tick(int64_t to) {
    now_ = to;
    core_->OnTick(Now());
    return Run();
  }

  // The process exited and its output drained; then the loop's tick.
  std::string Ends(const std::string& id, exec::ExitStatus status) {
    core_->OnExit(id, status, Now());
    std::string out = Run();
    core_->OnOutputDone(id);
    const std::string tick = Tick(now_);
    return out + (out.empty() || tick.empty() ? "" : "; ") + tick;
  }

  Message Assign(const std::string& id, int64_t attempt, wire::Map extra = {},
                 const std::string& sha = "f1") {
    wire::Map spec = {{"id", S(id)}, {"file", S("job.sh")}};
    for (auto& kv : extra) spec.push_back(std::move(kv));
    Message m = wire::MakeMessage(MsgType::kJobAssign);
    m.Set("job", Datum(std::move(spec))).Set("attempt", Datum(attempt)).Set("file_sha256", S(sha));
    m.Set("file_size", Datum(int64_t{6}));
    return m;
  }

  static Message Cancel(const std::string& id, int64_t attempt,
                        const std::string& reason = "stopped by request") {
    Message m = wire::MakeMessage(MsgType::kJobCancel);
    return m.Set("id", S(id)).Set("attempt", Datum(attempt)).Set("reason", S(reason));
  }

  static Message Welcome() {
    return wire::MakeMessage(MsgType::kWorkerWelcome).Set("heartbeat_ms", Datum(int64_t{1000}));
  }
  // A WORKER_WELCOME with a fencing lease.
  static Message WelcomeWithLease(int64_t lease_ms) { return Welcome().Set("lease_ms", Datum(lease_ms)); }

  static Message Drain() { return wire::MakeMessage(MsgType::kWorkerDrain).Set("reason", S("operator")); }

  static wire::Map Service(int64_t max_restarts) {
    return {{"job_type", S("SERVICE")}, {"max_restarts", Datum(max_restarts)}};
  }

  // "a/1 b/2" of WORKER_READY.running, "| c/1:<reason>" of its finished results.
  std::string Ready() const {
    const wire::WorkerReadyMsg ready = core_->ReadyMessage();
    std::string out;
    for (const wire::JobRef& r : ready.running) out += r.id + "/" + std::to_string(r.attempt) + " ";
    out += "|";
    for (const wire::JobResult& r : ready.finished) out += " " + r.id + "/" + std::to_string(r.attempt);
    return out;
  }

  static constexpr exec::ExitStatus Exited(int code) { return {exec::ExitStatus::Kind::kExited, code, 0}; }
  static constexpr exec::ExitStatus Killed(int sig) { return {exec::ExitStatus::Kind::kSignaled, 0, sig}; }

  WorkerCoreConfig config_{.name = "w1",
                           .host = "h",
                           .pid = 7,
                           .slots = 4,
                           .capabilities = {"GENERAL"},
                           .broker = "127.0.0.1:9090",
                           .kill_grace_ms = 5000,
                           .drain_grace_ms = 30000};
  std::unique_ptr<WorkerCore> core_;
  int64_t now_ = kT0;
  int64_t wall_offset_ = 0;
  int64_t next_pid_ = 100;
  std::set<std::string> missing_;  // files not in the cache: their fetch goes on until OnFile
  std::set<std::string> children_;
  bool fail_respawn_ = false;
};

}  // namespace titan::worker
