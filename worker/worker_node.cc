// The worker's event loop: the broker link, every job's output pipes and exit descriptors, probes,
// child workers and a signalfd, all in one zmq::poll on one thread. Also broker messages and run-once
// jobs; services are in worker_services.cc, child workers in worker_children.cc.
#include "worker/worker_node.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <filesystem>
#include <map>

#include "base/clock.h"
#include "base/signal_watch.h"
#include "worker/capabilities.h"

namespace titan::worker {
namespace {

using wire::Datum;
using wire::Message;
using wire::MsgType;
using wire::Text;

constexpr int64_t kDrainMs = 2000;  // how long output may keep flowing after a job's leader exited
constexpr int kFetchCredit = 4;     // file chunks in flight per missing file
constexpr int64_t kFetchChunk = wire::kMaxChunkBytes;  // bytes per chunk

std::string HostName() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

Worker::Worker(const WorkerOptions& o, exec::PidRegistry registry, artifacts::BlobStore cache)
    : o_(o),
      registry_(std::move(registry)),
      cache_(std::move(cache)),
      fetch_(&cache_, kFetchCredit, kFetchChunk),
      caps_(DetectCapabilities(o.tags, o.high_mem_mb)),
      link_(ctx_, o.host, o.port, o.heartbeat_ms, [this] { return ReadyMessage(); }) {
  name_ = o.name.empty() ? HostName() + "-" + std::to_string(getpid()) : o.name;
  // Absolute, because jobs run in their own directory and get these paths in their environment.
  const std::filesystem::path dir = std::filesystem::absolute(o.dir).lexically_normal();
  ctx_job_.jobs_dir = (dir / "titan_workspace" / "jobs").string();
  ctx_job_.shared_dir = SharedDirOf(o);
  ctx_job_.broker_host = o.host;
  ctx_job_.broker_port = o.port;
  ctx_job_.base_env = exec::CurrentEnvironment();
  ctx_job_.tools = exec::ResolveToolchain(ctx_job_.base_env);
  std::error_code ec;
  std::filesystem::create_directories(ctx_job_.jobs_dir, ec);
  std::filesystem::create_directories(ctx_job_.shared_dir, ec);
  children_ = ChildWorkers(ChildWorkerTemplate{.exe = SelfExe(),
                                               .host = o.host,
                                               .port = o.port,
                                               .parent = name_,
                                               .dir = dir.string(),
                                               .shared_dir = ctx_job_.shared_dir,
                                               .executor = o.executor,
                                               .tags = o.tags,
                                               .heartbeat_ms = o.heartbeat_ms,
                                               .kill_grace_ms = o.kill_grace_ms,
                                               .drain_grace_ms = o.drain_grace_ms});
}

Message Worker::ReadyMessage() const {
  wire::List caps, running, finished;
  for (const auto& c : caps_) caps.push_back(Datum(Text{c}));
  for (const auto& [id, job] : jobs_) {
    running.push_back(Datum(wire::Map{{"id", Datum(Text{id})}, {"attempt", Datum(job->attempt)}}));
  }
  for (const auto& [hash, assigns] : awaiting_file_) {
    for (const Message& a : assigns) {
      const auto& spec = std::get<wire::Map>(a.Find("job")->v);
      running.push_back(
          Datum(wire::Map{{"id", *wire::FindField(spec, "id")}, {"attempt", Datum(a.Int("attempt"))}}));
    }
  }
  for (const auto& [key, result] : unacked_) finished.push_back(result);
  Message ready = wire::MakeMessage(MsgType::kWorkerReady);
  ready.Set("name", Datum(Text{name_}))
      .Set("host", Datum(Text{HostName()}))
      .Set("pid", Datum(int64_t{getpid()}))
      .Set("slots", Datum(int64_t{o_.slots}))
      .Set("capabilities", Datum(std::move(caps)))
      .Set("running", Datum(std::move(running)))
      .Set("finished", Datum(std::move(finished)));
  if (!o_.parent.empty()) ready.Set("parent", Datum(Text{o_.parent}));
  if (o_.address_port > 0) ready.Set("port", Datum(int64_t{o_.address_port}));
  return ready;
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
  unacked_[{std::string(wire::FindField(m, "id")->bytes()),
            std::get<int64_t>(wire::FindField(m, "attempt")->v)}] = result;
  SendControl(wire::MakeMessage(MsgType::kJobDone).Set("result", std::move(result)));
}

void Worker::Start(const Message& assign, int64_t now) {
  const auto& spec = std::get<wire::Map>(assign.Find("job")->v);
  const std::string id(wire::FindField(spec, "id")->bytes());
  const int64_t attempt = assign.Int("attempt");
  if (o_.executor == "noop") {
    Report(Datum(wire::Map{{"id", Datum(Text{id})},
                           {"attempt", Datum(attempt)},
                           {"exit_code", Datum(int64_t{0})},
                           {"signal", Datum(int64_t{0})},
                           {"cancelled", Datum(false)}}));
    return;
  }
  if (auto running = jobs_.find(id); running != jobs_.end()) {
    if (running->second->attempt < attempt) {
      // An earlier run of this job is still ending here (cancelled after this worker was thought
      // lost): start the new attempt once the old one is gone; they share the job's directory.
      deferred_[id] = assign;
      const std::string why = "superseded by attempt " + std::to_string(attempt);
      if (running->second->service) {
        EndService(*running->second, why, now);
      } else {
        running->second->Stop(now, o_.kill_grace_ms, why, true);
      }
      return;
    }
    Report(FailedStart(id, attempt, "job '" + id + "' is already running on worker " + name_));
    return;
  }
  const std::string hash(assign.Bytes("file_sha256"));
  auto have = fetch_.Need(hash, assign.Int("file_size", -1));
  if (!have.ok()) {
    Report(FailedStart(id, attempt, have.message()));
    return;
  }
  if (!have.value()) {
    awaiting_file_[hash].push_back(assign);  // started when the fetch ends
    return;
  }
  Launch(assign, now);
}

size_t Worker::Busy() const {
  size_t n = jobs_.size();
  for (const auto& [hash, assigns] : awaiting_file_) n += assigns.size();
  return n;
}

void Worker::FileFetched(const FileFetch::Ended& ended, int64_t now) {
  auto it = awaiting_file_.find(ended.sha256);
  if (it == awaiting_file_.end()) return;
  std::vector<Message> assigns = std::move(it->second);
  awaiting_file_.erase(it);
  if (ended.status.ok()) {
    spdlog::info(
        "worker {}: fetched file sha256 {} from the broker into the cache; {} jobs were waiting for it",
        name_, ended.sha256, assigns.size());
  }
  for (const Message& a : assigns) {
    if (ended.status.ok()) {
      Launch(a, now);
    } else {
      const auto& spec = std::get<wire::Map>(a.Find("job")->v);
      Report(FailedStart(std::string(wire::FindField(spec, "id")->bytes()), a.Int("attempt"),
                         ended.status.message()));
    }
  }
}

void Worker::SendFetches() {
  if (link_.state() != BrokerLink::State::kReady) return;
  std::vector<Message> requests = fetch_.TakeRequests();
  size_t sent = 0;
  while (sent < requests.size() && link_.Send(requests[sent])) ++sent;
  requests.erase(requests.begin(), requests.begin() + static_cast<std::ptrdiff_t>(sent));
  if (!requests.empty()) fetch_.Unsent(std::move(requests));
}

// Starts an assignment whose file is in the cache.
void Worker::Launch(const Message& assign, int64_t now) {
  const auto& spec = std::get<wire::Map>(assign.Find("job")->v);
  const std::string id(wire::FindField(spec, "id")->bytes());
  const int64_t attempt = assign.Int("attempt");
  if (!ServiceMayStart(spec, id, attempt)) return;
  auto job = StartJob(assign, ctx_job_, cache_.PathOf(std::string(assign.Bytes("file_sha256"))), now);
  if (!job.ok()) {
    spdlog::warn("worker: job {} could not start: {}", id, job.message());
    Report(FailedStart(id, attempt, job.message()));
    return;
  }
  if (auto st = registry_.Add(job.value()->child->pid()); !st.ok())
    spdlog::warn("worker: pid registry: {}", st.message());
  SendControl(wire::MakeMessage(MsgType::kJobStarted)
                  .Set("id", Datum(Text{id}))
                  .Set("attempt", Datum(attempt))
                  .Set("pid", Datum(int64_t{job.value()->child->pid()})));
  RunningJob& started = *job.value();
  jobs_[id] = std::move(job.value());
  if (started.service) ServiceStarted(started, now);
}

void Worker::Handle(const Message& msg, int64_t now) {
  switch (msg.type) {
    case MsgType::kWorkerWelcome:
      // WORKER_READY carried every running job and unacknowledged result: what was queued is moot.
      unsent_.clear();
      fetch_.Restart();  // reads in flight on the old connection are lost
      if (!announced_) {
        AnnounceReady("worker", name_);
        announced_ = true;
      }
      spdlog::info("worker {}: registered with {}:{} ({} slots, capabilities {})", name_, o_.host, o_.port,
                   o_.slots, fmt::join(caps_, ","));
      // The broker may have restarted and lost what it knew about our services: tell it again.
      for (const auto& [id, job] : jobs_) {
        if (job->service && !job->service->ended_for_good()) SendServiceStatus(*job);
      }
      return;
    case MsgType::kJobAssign:
      return Start(msg, now);
    case MsgType::kArtifactData:
      for (const auto& ended : fetch_.OnReply(msg)) FileFetched(ended, now);
      return;
    case MsgType::kJobCancel: {
      for (auto& [hash, assigns] : awaiting_file_) {  // not started yet: it ends here
        for (auto a = assigns.begin(); a != assigns.end(); ++a) {
          const auto& spec = std::get<wire::Map>(a->Find("job")->v);
          if (wire::FindField(spec, "id")->bytes() != msg.Bytes("id") ||
              a->Int("attempt") != msg.Int("attempt"))
            continue;
          const std::string id(msg.Bytes("id"));
          const int64_t attempt = msg.Int("attempt");
          assigns.erase(a);
          Report(FailedStart(id, attempt, std::string(msg.Bytes("reason")), /*cancelled=*/true));
          return;
        }
      }
      auto it = jobs_.find(std::string(msg.Bytes("id")));
      if (it != jobs_.end() && it->second->attempt == msg.Int("attempt")) {
        if (it->second->service) {
          EndService(*it->second, std::string(msg.Bytes("reason")), now);
        } else {
          it->second->Stop(now, o_.kill_grace_ms, std::string(msg.Bytes("reason")), true);
        }
      }
      return;
    }
    case MsgType::kJobAck:
      unacked_.erase({std::string(msg.Bytes("id")), msg.Int("attempt")});
      return;
    case MsgType::kWorkerDrain:
      return BeginDrain(std::string(msg.Bytes("reason")), now);
    case MsgType::kWorkerSpawn:
      return SpawnChild(msg);
    case MsgType::kDisconnect:
      return link_.Reregister(now);
    case MsgType::kError:
      if (msg.Has("rid")) {
        for (const auto& ended : fetch_.OnReply(msg)) FileFetched(ended, now);
        return;
      }
      spdlog::warn("worker: the broker refused a message: {}: {}", msg.Bytes("code"), msg.Bytes("reason"));
      return;
    default:
      spdlog::warn("worker: ignoring {} from the broker", wire::NameOf(msg.type));
  }
}

// Run-once jobs may finish within the drain grace; services are handed back at once; child workers
// drain too (SIGTERM) and are killed if still running after their own grace (drain + kill).
void Worker::BeginDrain(const std::string& why, int64_t now) {
  if (draining_) return;
  draining_ = true;
  drain_deadline_ = now + o_.drain_grace_ms;
  spdlog::info("worker {}: draining ({}); {} running jobs may take up to {} ms", name_, why, jobs_.size(),
               o_.drain_grace_ms);
  // Tell the broker now, ahead of the JOB_DONEs of handed-back services (same socket, same order), so
  // that it requeues them instead of taking them for stopped — also when the drain began here (signal).
  SendControl(wire::MakeMessage(MsgType::kHeartbeat)
                  .Set("busy", Datum(static_cast<int64_t>(Busy())))
                  .Set("draining", Datum(true)));
  HandBackServices(now);
  children_kill_at_ = now + o_.drain_grace_ms + o_.kill_grace_ms + kChildExitMarginMs;
  if (!children_.empty()) {
    spdlog::info("worker {}: stopping {} child workers (SIGTERM)", name_, children_.size());
    children_.Signal(SIGTERM);
  }
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
    if (job.service && job.service->backing_off()) {  // between runs: no process to watch
      if (now >= job.service->restart_at()) RestartService(job, now);
      if (job.service->backing_off() || job.child) {
        ++it;
        continue;
      }
    }
    if (job.service && job.child && !job.exit && !job.kill_at) TendService(job, now);
    if (job.timeout_at && now >= job.timeout_at && !job.kill_at) {
      job.Stop(now, o_.kill_grace_ms, "timed out", false);
    }
    if (job.kill_at && now >= job.kill_at) (void)job.child->SignalGroup(SIGKILL);
    if (!job.exit) job.exit = job.child->TryReap();
    if (job.exit && job.service) job.service->StopProbing();  // nothing left to probe
    if (job.exit && !job.output_done()) {
      (void)job.child->SignalGroup(
          SIGKILL);  // the job is over: end what it left behind, then drain its pipes
      PumpOutput(job);
      // A process that left the group (setsid) may hold the pipes open forever: stop waiting for EOF.
      if (!job.drain_until) job.drain_until = now + kDrainMs;
      if (!job.output_done() && now >= job.drain_until) {
        spdlog::warn(
            "worker: job {} left a process outside its group holding its output open; not waiting for it",
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
    if (job.child) (void)registry_.Remove(job.child->pid());
    if (job.service && ServiceExited(job, now)) {  // restarts after its backoff
      ++it;
      continue;
    }
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

bool Worker::Owns(pid_t pid) const {
  if (children_.Owns(pid)) return true;
  for (const auto& [id, job] : jobs_) {
    if (job->child && job->child->pid() == pid) return true;
    if (job->service && job->service->probe_pid() == pid) return true;
  }
  return false;
}

// The worker is the subreaper of its jobs' descendants: processes orphaned by a job are re-parented
// here and reaped now, so none lingers as a zombie. Processes we hold a handle for (job leaders,
// health-check commands, child workers) are left to it: it keeps them unreaped on purpose (their
// pid is their group id) and reports their exit.
void Worker::ReapOrphans() {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (Owns(info.si_pid)) return;  // exited just now: its owner notices it next turn
    waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

int64_t Worker::NextDue(int64_t now, int64_t link_due) const {
  int64_t due = std::min<int64_t>(link_due, now + 1000);
  for (const auto& [id, job] : jobs_) {
    if (job->timeout_at && !job->kill_at) due = std::min(due, job->timeout_at);
    if (job->kill_at) due = std::min(due, job->kill_at);
    if (job->drain_until && !job->output_done()) due = std::min(due, job->drain_until);
    if (job->service) due = std::min(due, job->service->NextDue());
  }
  if (draining_ && !children_.empty()) due = std::min(due, children_kill_at_);
  if (!unsent_.empty()) due = std::min(due, now + 5);  // retry soon: the broker is reading its queue
  return due;
}

void Worker::AddPollItems(std::vector<zmq::pollitem_t>* items, bool can_send) const {
  const auto add = [items](const PollFd& p) {
    items->push_back({nullptr, p.fd, static_cast<short>(p.write ? ZMQ_POLLOUT : ZMQ_POLLIN), 0});
  };
  for (const auto& [id, job] : jobs_) {
    // Backpressure: a job's pipes are read only while its output can go somewhere.
    if (can_send || job->exit) {
      if (job->out && !job->out->eof()) add({job->out->fd(), false});
      if (job->err && !job->err->eof()) add({job->err->fd(), false});
    }
    if (!job->exit && job->child && job->child->exit_fd() >= 0) add({job->child->exit_fd(), false});
    if (job->service) {
      for (const PollFd& p : job->service->PollFds()) add(p);
    }
  }
  for (const PollFd& p : children_.PollFds()) add(p);
}

int Worker::Run() {
  SignalWatch signals;
  std::vector<zmq::pollitem_t> items;
  for (;;) {
    int64_t now = WallMs();
    const int64_t link_due = link_.Tick(now, static_cast<int64_t>(Busy()), draining_);
    const int64_t due = NextDue(now, link_due);
    const bool can_send = link_.state() == BrokerLink::State::kReady && link_.Writable();
    items.assign(3, zmq::pollitem_t{});
    items[0] = signals.PollItem();
    items.resize(1 + link_.AddPollItems(&items[1], !can_send && !jobs_.empty()));
    AddPollItems(&items, can_send);
    try {
      zmq::poll(items.data(), items.size(), std::chrono::milliseconds(std::max<int64_t>(0, due - now)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    now = WallMs();
    if (items[0].revents & ZMQ_POLLIN) {
      const int sig = signals.Take();
      const bool at_once = draining_ || sig == SIGINT;  // a second signal, or Ctrl-C: no grace
      BeginDrain("signal " + std::to_string(sig), now);
      if (at_once) {
        spdlog::info("worker {}: signal {}; stopping {} jobs now", name_, sig, jobs_.size());
        for (auto& [id, job] : jobs_)
          job->Stop(now, o_.kill_grace_ms, "worker " + name_ + " shut down", false);
        drain_deadline_ = now;
        children_.Signal(sig == SIGINT ? SIGINT : SIGTERM);  // they stop their jobs at once too
        children_kill_at_ = std::min(children_kill_at_, now + o_.kill_grace_ms + kChildExitMarginMs);
      }
    }
    for (const Message& m : link_.Receive(now)) Handle(m, now);
    FlushUnsent();
    SendFetches();
    for (auto& [id, job] : jobs_) {
      if (can_send || job->exit) PumpOutput(*job);
      SendLogs(*job);
    }
    Reap(now);
    TendChildren(now);
    ReapOrphans();
    if (draining_) {
      if (jobs_.empty() && awaiting_file_.empty() && children_.empty()) break;
      if (now >= drain_deadline_) {
        for (auto& [id, job] : jobs_)
          job->Stop(now, o_.kill_grace_ms, "worker " + name_ + " shut down", false);
      }
    }
  }
  // Give the last results a moment to leave (linger) before the context closes.
  spdlog::info("worker {}: stopped", name_);
  return 0;
}

std::string SharedDirOf(const WorkerOptions& o) {
  if (!o.shared_dir.empty()) return std::filesystem::absolute(o.shared_dir).lexically_normal().string();
  std::filesystem::path dir = std::filesystem::absolute(o.dir).lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "a/b/" -> "a/b"
  return (dir.parent_path() / "titan_workspace" / "shared").string();
}

int RunWorker(const WorkerOptions& options) {
  auto registry = exec::PidRegistry::Open(options.dir + "/pids");
  if (!registry.ok()) {
    spdlog::error("worker: {}", registry.message());
    return 1;
  }
  // A worker started by another one drains when its parent dies (the parent normally stops it first).
  if (!options.parent.empty()) prctl(PR_SET_PDEATHSIG, SIGTERM);
  // Child workers of a previous run are in the registry like jobs; the jobs they ran are in theirs.
  if (auto ended = registry->ReapLeftovers(); ended.ok() && ended.value() > 0) {
    spdlog::warn("worker: ended {} job process groups left by a previous run", ended.value());
  }
  if (const int ended = EndLeftoverChildren(options.dir + "/children"); ended > 0) {
    spdlog::warn("worker: ended {} job process groups left by child workers of a previous run", ended);
  }
  auto cache = artifacts::BlobStore::Open(options.dir + "/cache");
  if (!cache.ok()) {
    spdlog::error("worker: {}", cache.message());
    return 1;
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  Worker worker(options, std::move(registry.value()), std::move(cache.value()));
  return worker.Run();
}

}  // namespace titan::worker
