// The worker's event loop: the broker link, every job's output pipes and exit descriptors, and a
// signalfd, all in one zmq::poll on one thread.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>

#include "broker_link.h"
#include "capabilities.h"
#include "pid_registry.h"
#include "running_job.h"
#include "signal_watch.h"
#include "worker.h"

namespace titan::worker {
namespace {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

constexpr int64_t kDrainMs = 2000;  // how long output may keep flowing after a job's leader exited

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A field of a msgpack map by name (maps from peers may list fields in any order).

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

class Worker {
 public:
  Worker(const WorkerOptions& o, exec::PidRegistry registry)
      : o_(o), registry_(std::move(registry)), caps_(DetectCapabilities(o.tags, o.high_mem_mb)),
        link_(ctx_, o.host, o.port, o.heartbeat_ms, [this] { return ReadyMessage(); }) {
    name_ = o.name.empty() ? HostName() + "-" + std::to_string(getpid()) : o.name;
    // Absolute, because jobs run in their own directory and get these paths in their environment.
    const std::string ws = std::filesystem::absolute(o.dir).lexically_normal().string() + "/titan_workspace";
    ctx_job_.jobs_dir = ws + "/jobs";
    ctx_job_.shared_dir = ws + "/shared";
    ctx_job_.broker_host = o.host;
    ctx_job_.broker_port = o.port;
    ctx_job_.base_env = exec::CurrentEnvironment();
    ctx_job_.tools = exec::ResolveToolchain(ctx_job_.base_env);
    std::error_code ec;
    std::filesystem::create_directories(ctx_job_.jobs_dir, ec);
    std::filesystem::create_directories(ctx_job_.shared_dir, ec);
  }

  int Run();

 private:
  Message ReadyMessage() const;
  void Handle(const Message& msg, int64_t now);
  void Start(const Message& assign, int64_t now);
  void Report(Datum result);
  void PumpOutput(RunningJob& job);
  void SendLogs(RunningJob& job);
  void Reap(int64_t now);
  void BeginDrain(const std::string& why, int64_t now);
  void ReapOrphans();
  void SendControl(Message msg);
  void FlushUnsent();

  WorkerOptions o_;
  exec::PidRegistry registry_;
  std::vector<std::string> caps_;
  zmq::context_t ctx_{1};
  BrokerLink link_;
  std::string name_;
  JobContext ctx_job_;
  std::map<std::string, std::unique_ptr<RunningJob>> jobs_;  // by id
  std::map<std::pair<std::string, int64_t>, Datum> unacked_;  // results until JOB_ACK
  std::map<std::string, Message> deferred_;  // assignments waiting for an earlier run of the same job to end
  std::deque<Message> unsent_;  // control messages the full socket refused, in order; retried each turn
  bool announced_ = false;
  bool draining_ = false;
  int64_t drain_deadline_ = 0;
};

Message Worker::ReadyMessage() const {
  wire::List caps, running, finished;
  for (const auto& c : caps_) caps.push_back(Datum(Text{c}));
  for (const auto& [id, job] : jobs_) {
    running.push_back(Datum(wire::Map{{"id", Datum(Text{id})}, {"attempt", Datum(job->attempt)}}));
  }
  for (const auto& [key, result] : unacked_) finished.push_back(result);
  return wire::MakeMessage(MsgType::kWorkerReady)
      .Set("name", Datum(Text{name_}))
      .Set("host", Datum(Text{HostName()}))
      .Set("pid", Datum(int64_t{getpid()}))
      .Set("slots", Datum(int64_t{o_.slots}))
      .Set("capabilities", Datum(std::move(caps)))
      .Set("running", Datum(std::move(running)))
      .Set("finished", Datum(std::move(finished)));
}

void Worker::SendControl(Message msg) {
  if (!unsent_.empty() || !link_.Send(msg)) unsent_.push_back(std::move(msg));
}

void Worker::FlushUnsent() {
  while (!unsent_.empty() && link_.state() == BrokerLink::State::kReady && link_.Send(unsent_.front())) {
    unsent_.pop_front();
  }
}

void Worker::Report(Datum result) {
  const auto& m = std::get<wire::Map>(result.v);
  unacked_[{std::string(wire::FindField(m, "id")->bytes()), std::get<int64_t>(wire::FindField(m, "attempt")->v)}] = result;
  SendControl(wire::MakeMessage(MsgType::kJobDone).Set("result", std::move(result)));
}

void Worker::Start(const Message& assign, int64_t now) {
  const auto& spec = std::get<wire::Map>(assign.Find("job")->v);
  const std::string id(wire::FindField(spec, "id")->bytes());
  const int64_t attempt = assign.Int("attempt");
  if (o_.executor == "noop") {
    Report(Datum(wire::Map{{"id", Datum(Text{id})}, {"attempt", Datum(attempt)}, {"exit_code", Datum(int64_t{0})},
                           {"signal", Datum(int64_t{0})}, {"cancelled", Datum(false)}}));
    return;
  }
  if (auto running = jobs_.find(id); running != jobs_.end()) {
    if (running->second->attempt < attempt) {
      // An earlier run of this job is still ending here (cancelled after this worker was thought
      // lost): start the new attempt once the old one is gone; they share the job's directory.
      deferred_[id] = assign;
      running->second->Stop(now, o_.kill_grace_ms, "superseded by attempt " + std::to_string(attempt), true);
      return;
    }
    Report(FailedStart(id, attempt, "job '" + id + "' is already running on worker " + name_));
    return;
  }
  auto job = StartJob(assign, ctx_job_, now);
  if (!job.ok()) {
    spdlog::warn("worker: job {} could not start: {}", id, job.message());
    Report(FailedStart(id, attempt, job.message()));
    return;
  }
  if (auto st = registry_.Add(job.value()->child->pid()); !st.ok()) spdlog::warn("worker: pid registry: {}", st.message());
  SendControl(wire::MakeMessage(MsgType::kJobStarted)
                 .Set("id", Datum(Text{id}))
                 .Set("attempt", Datum(attempt))
                 .Set("pid", Datum(int64_t{job.value()->child->pid()})));
  jobs_[id] = std::move(job.value());
}

void Worker::Handle(const Message& msg, int64_t now) {
  switch (msg.type) {
    case MsgType::kWorkerWelcome:
      // WORKER_READY carried every running job and unacknowledged result: what was queued is moot.
      unsent_.clear();
      if (!announced_) {
        AnnounceReady("worker", name_);
        announced_ = true;
      }
      spdlog::info("worker {}: registered with {}:{} ({} slots, capabilities {})", name_, o_.host, o_.port, o_.slots,
                   fmt::join(caps_, ","));
      return;
    case MsgType::kJobAssign: return Start(msg, now);
    case MsgType::kJobCancel: {
      auto it = jobs_.find(std::string(msg.Bytes("id")));
      if (it != jobs_.end() && it->second->attempt == msg.Int("attempt")) {
        it->second->Stop(now, o_.kill_grace_ms, std::string(msg.Bytes("reason")), true);
      }
      return;
    }
    case MsgType::kJobAck: unacked_.erase({std::string(msg.Bytes("id")), msg.Int("attempt")}); return;
    case MsgType::kWorkerDrain: return BeginDrain(std::string(msg.Bytes("reason")), now);
    case MsgType::kDisconnect: return link_.Reregister(now);
    case MsgType::kError:
      spdlog::warn("worker: the broker refused a message: {}: {}", msg.Bytes("code"), msg.Bytes("reason"));
      return;
    default: spdlog::warn("worker: ignoring {} from the broker", wire::NameOf(msg.type));
  }
}

void Worker::BeginDrain(const std::string& why, int64_t now) {
  if (draining_) return;
  draining_ = true;
  drain_deadline_ = now + o_.drain_grace_ms;
  spdlog::info("worker {}: draining ({}); {} running jobs may take up to {} ms", name_, why, jobs_.size(),
               o_.drain_grace_ms);
}

void Worker::PumpOutput(RunningJob& job) {
  for (exec::OutputCapture* c : {job.out.get(), job.err.get()}) {
    if (c == nullptr || c->eof()) continue;
    if (auto st = c->OnReadable(); !st.ok()) spdlog::warn("worker: job {} output: {}", job.id, st.message());
  }
}

void Worker::SendLogs(RunningJob& job) {
  while (!job.pending.empty() && link_.state() == BrokerLink::State::kReady) {
    LogChunk& chunk = job.pending.front();
    Message m = wire::MakeMessage(MsgType::kJobLog);
    m.Set("id", Datum(Text{job.id})).Set("attempt", Datum(job.attempt)).Set("seq", Datum(job.next_seq));
    m.Set("stream", Datum(Text{std::string(exec::StreamName(chunk.stream))}));
    m.blobs.push_back(std::move(chunk.bytes));
    if (!link_.Send(m)) {
      chunk.bytes = std::move(m.blobs.front());  // the socket is full: keep it for the next turn
      return;
    }
    ++job.next_seq;
    job.pending.erase(job.pending.begin());
  }
}

void Worker::Reap(int64_t now) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    RunningJob& job = *it->second;
    if (job.timeout_at && now >= job.timeout_at && !job.kill_at) {
      job.Stop(now, o_.kill_grace_ms, "timed out", false);
    }
    if (job.kill_at && now >= job.kill_at) (void)job.child->SignalGroup(SIGKILL);
    if (!job.exit) job.exit = job.child->TryReap();
    if (job.exit && !job.output_done()) {
      (void)job.child->SignalGroup(SIGKILL);  // the job is over: end what it left behind, then drain its pipes
      PumpOutput(job);
      // A process that left the group (setsid) may hold the pipes open forever: stop waiting for EOF.
      if (!job.drain_until) job.drain_until = now + kDrainMs;
      if (!job.output_done() && now >= job.drain_until) {
        spdlog::warn("worker: job {} left a process outside its group holding its output open; not waiting for it",
                     job.id);
        job.output_abandoned = true;
      }
    }
    if (!job.exit || !job.output_done()) {
      ++it;
      continue;
    }
    SendLogs(job);
    if (!job.pending.empty()) {  // output still waiting for socket space
      ++it;
      continue;
    }
    (void)registry_.Remove(job.child->pid());
    Report(ResultOf(job));
    const std::string id = job.id;
    it = jobs_.erase(it);
    if (auto next = deferred_.find(id); next != deferred_.end()) {
      const Message assign = std::move(next->second);
      deferred_.erase(next);
      Start(assign, now);
      break;  // Start changed jobs_; the next turn reaps the rest
    }
  }
}

// The worker is the subreaper of its jobs' descendants: processes orphaned by a job are re-parented
// here and reaped now, so none lingers as a zombie. Job leaders are left to their ChildProcess,
// which keeps them unreaped on purpose (their pid is their group id).
void Worker::ReapOrphans() {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    bool leader = false;
    for (const auto& [id, job] : jobs_) leader |= job->child && job->child->pid() == info.si_pid;
    if (leader) return;  // a leader that just exited: its job's TryReap reports it this turn
    waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

int Worker::Run() {
  SignalWatch signals;
  std::vector<zmq::pollitem_t> items;
  for (;;) {
    int64_t now = NowMs();
    const int64_t link_due = link_.Tick(now, static_cast<int64_t>(jobs_.size()), draining_);
    int64_t due = std::min<int64_t>(link_due, now + 1000);
    for (const auto& [id, job] : jobs_) {
      if (job->timeout_at && !job->kill_at) due = std::min(due, job->timeout_at);
      if (job->kill_at) due = std::min(due, job->kill_at);
      if (job->drain_until) due = std::min(due, job->drain_until);
    }
    const bool can_send = link_.state() == BrokerLink::State::kReady && link_.Writable();
    if (!unsent_.empty()) due = std::min(due, now + 5);  // retry soon: the broker is reading its queue
    items.assign(2 + 3 * jobs_.size() + 1, zmq::pollitem_t{});
    size_t n = 0;
    items[n++] = signals.PollItem();
    n += link_.AddPollItems(&items[n], !can_send && !jobs_.empty());
    for (const auto& [id, job] : jobs_) {
      // Backpressure: a job's pipes are read only while its output can go somewhere.
      if (can_send || job->exit) {
        if (!job->out->eof()) items[n++] = {nullptr, job->out->fd(), ZMQ_POLLIN, 0};
        if (!job->err->eof()) items[n++] = {nullptr, job->err->fd(), ZMQ_POLLIN, 0};
      }
      if (!job->exit && job->child->exit_fd() >= 0) items[n++] = {nullptr, job->child->exit_fd(), ZMQ_POLLIN, 0};
    }
    try {
      zmq::poll(items.data(), n, std::chrono::milliseconds(std::max<int64_t>(0, due - now)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    now = NowMs();
    if (items[0].revents & ZMQ_POLLIN) {
      const int sig = signals.Take();
      if (draining_ || sig == SIGINT) {
        spdlog::info("worker {}: signal {}; stopping {} jobs now", name_, sig, jobs_.size());
        for (auto& [id, job] : jobs_) job->Stop(now, o_.kill_grace_ms, "worker " + name_ + " shut down", false);
        drain_deadline_ = now;
      }
      BeginDrain("signal " + std::to_string(sig), now);
    }
    for (const Message& m : link_.Receive(now)) Handle(m, now);
    FlushUnsent();
    for (auto& [id, job] : jobs_) {
      if (can_send || job->exit) PumpOutput(*job);
      SendLogs(*job);
    }
    Reap(now);
    ReapOrphans();
    if (draining_) {
      if (jobs_.empty()) break;
      if (now >= drain_deadline_) {
        for (auto& [id, job] : jobs_) job->Stop(now, o_.kill_grace_ms, "worker " + name_ + " shut down", false);
      }
    }
  }
  // Give the last results a moment to leave (linger) before the context closes.
  spdlog::info("worker {}: stopped", name_);
  return 0;
}

}  // namespace

int RunWorker(const WorkerOptions& options) {
  auto registry = exec::PidRegistry::Open(options.dir + "/pids");
  if (!registry.ok()) {
    spdlog::error("worker: {}", registry.message());
    return 1;
  }
  if (auto ended = registry->ReapLeftovers(); ended.ok() && ended.value() > 0) {
    spdlog::warn("worker: ended {} job process groups left by a previous run", ended.value());
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  Worker worker(options, std::move(registry.value()));
  return worker.Run();
}

}  // namespace titan::worker
