// The worker's OS edge: spawning and signalling job process groups, draining their pipes into logs
// and JOB_LOG chunks, probes, child workers, the PID registry, and the subreaper's orphans.
#include "worker/worker_edge.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <limits>

#include "worker/reaper_runs.h"
#include "worker/service.h"
#include "worker/volumes.h"

namespace titan::worker {
namespace {

using wire::Message;

constexpr int kFetchCredit = 4;                        // file chunks in flight per missing file
constexpr int64_t kFetchChunk = wire::kMaxChunkBytes;  // bytes per chunk

}  // namespace

WorkerEdge::WorkerEdge(std::string name, JobContext ctx, exec::PidRegistry registry,
                       artifacts::BlobStore cache, ChildWorkers children, MachineProbe machine)
    : name_(std::move(name)),
      ctx_(std::move(ctx)),
      registry_(std::move(registry)),
      cache_(std::move(cache)),
      fetch_(&cache_, kFetchCredit, kFetchChunk),
      children_(std::move(children)),
      machine_(std::move(machine)),
      fork_servers_(std::make_unique<exec::ForkServers>(
          std::filesystem::path(ctx_.jobs_dir).parent_path().parent_path().string())) {
  ctx_.fork_servers = fork_servers_.get();
}

void WorkerEdge::PrewarmPython() {
  if (!ctx_.cold_python) fork_servers_->Prewarm(ctx_.tools.python, PlainJobEnvironment(ctx_));
}

RunningJob* WorkerEdge::Find(const std::string& id) {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

// Before a service's first start: its port must be free on this machine. When that cannot be told
// (e.g. a privileged port), the service may try.
bool WorkerEdge::PortFree(const wire::JobSpec& spec, std::string* reason) const {
  const std::string& id = spec.id;
  const std::optional<ServiceSpec> service = ServiceSpecOf(spec);
  if (!service || service->port <= 0) return true;
  const Result<bool> in_use = PortInUse(service->port);
  if (!in_use.ok()) {
    spdlog::warn("worker {}: service {}: cannot check port {}: {}", name_, id, service->port,
                 in_use.message());
    return true;
  }
  if (!in_use.value()) return true;
  *reason = "port " + std::to_string(service->port) + " is already in use on worker " + name_ +
            "; choose another port or stop what holds it";
  spdlog::warn("worker {}: service {} not started: {}", name_, id, *reason);
  return false;
}

void WorkerEdge::Acked(const std::string& id, int64_t attempt) {
  if (reaper_runs_.valid())
    (void)SendAcked(reaper_runs_.get(), id, attempt);  // missed: reported again, stale
}

void WorkerEdge::RunsGrace(int64_t ms) {
  if (reaper_runs_.valid()) (void)SendGrace(reaper_runs_.get(), ms);  // missed: the reaper's default
}

Result<int64_t> WorkerEdge::Launch(const wire::JobAssignMsg& assign) {
  const std::string& id = assign.job.id;
  if (std::string reason; !PortFree(assign.job, &reason)) return Status::Error(reason);
  auto job = StartJob(assign, ctx_, cache_.PathOf(assign.file_sha256));
  if (!job.ok()) return job.status();
  const pid_t pid = job.value()->child->pid();
  if (auto st = registry_.Add(pid, job.value()->child->start_time()); !st.ok())
    spdlog::warn("worker: pid registry: {}", st.message());
  const int exit_fd = job.value()->child->exit_fd();
  // A service's exits are the worker's to handle (restarts); only run-once jobs are handed to the reaper.
  if (reaper_runs_.valid() && !ServiceSpecOf(assign.job)) {
    const exec::ChildProcess& child = *job.value()->child;
    Status s = exit_fd < 0 ? Status::Error("no pidfd for the run to hand to the reaper")
                           : SendRun(reaper_runs_.get(), id, assign.attempt, assign.epoch, pid, exit_fd,
                                     {child.stdout_fd(), child.stderr_fd()});
    if (!s.ok()) {
      // An unwatched run must not outlive a killed worker: later runs keep their parent-death signal for
      // life again (this one, already started, is ended by the sweep of the worker's cgroups or registry).
      ctx_.runs_outlive_worker = false;
      if (!std::exchange(reaper_behind_logged_, true))
        spdlog::warn(
            "worker {}: {}; from now on a run that ends just before this worker is killed may run "
            "again",
            name_, s.message());
    }
  }
  jobs_[id] = std::move(job.value());
  return int64_t{pid};
}

void WorkerEdge::EnsureVolumes(const std::vector<wire::VolumeSpec>& volumes) {
  for (const wire::VolumeSpec& v : volumes) {
    Result<std::string> made = exec::EnsureVolume(ctx_.volumes_dir, v);
    if (!made.ok()) {
      spdlog::error("worker {}: {}", name_, made.message());
    } else if (!made->empty()) {
      spdlog::warn("worker {}: {}", name_, *made);
    }
  }
}

void WorkerEdge::DeleteVolume(const std::string& name) {
  if (Status s = exec::DeleteVolume(ctx_.volumes_dir, name); !s.ok()) {
    spdlog::error("worker {}: {}", name_, s.message());
  } else {
    spdlog::info("worker {}: volume {} deleted", name_, name);
  }
}

Result<int64_t> WorkerEdge::Respawn(const std::string& id, int64_t restart) {
  RunningJob* job = Find(id);
  if (job == nullptr) return Status::Error("job " + id + " is not on this worker");
  const std::string banner = "--- titan: service restarted (restart " + std::to_string(restart) + ") ---\n";
  if (auto st = job->log->Append(exec::Stream::kStdout, banner); !st.ok()) {
    spdlog::warn("worker: job {} output: {}", id, st.message());
  }
  if (auto st = RespawnJob(*job); !st.ok()) return st;
  if (auto st = registry_.Add(job->child->pid(), job->child->start_time()); !st.ok())
    spdlog::warn("worker: pid registry: {}", st.message());
  return int64_t{job->child->pid()};
}

void WorkerEdge::Signal(const std::string& id, int sig) {
  RunningJob* job = Find(id);
  if (job == nullptr || !job->child) return;
  (void)job->child->SignalGroup(sig);
  job->cgroup.Signal(sig);  // also what left the group (setsid)
}

void WorkerEdge::AbandonOutput(const std::string& id) {
  if (RunningJob* job = Find(id)) job->output_abandoned = true;
}

void WorkerEdge::EndRun(const std::string& id) {
  RunningJob* job = Find(id);
  if (job == nullptr || !job->child) return;
  (void)registry_.Remove(job->child->pid());
  job->child.reset();  // the exit status stays in job->exit
  if (Status s = job->cgroup.End(); !s.ok()) spdlog::warn("worker {}: job {}: {}", name_, id, s.message());
  job->probe.reset();
}

void WorkerEdge::Forget(const std::string& id) {
  EndRun(id);
  jobs_.erase(id);
}

void WorkerEdge::Note(const std::string& id, const std::string& line) {
  RunningJob* job = Find(id);
  if (job == nullptr || !job->log) return;
  if (Status s = job->log->Append(exec::Stream::kStderr, line + "\n"); !s.ok())
    spdlog::warn("worker: job {}: {}", id, s.message());
}

void WorkerEdge::StartProbe(const std::string& id, const ProbeRequest& request, int64_t now) {
  if (RunningJob* job = Find(id))
    job->probe.emplace(Probe::Start(request, job->spawn.cwd, job->spawn.env, now));
}

void WorkerEdge::StopProbe(const std::string& id) {
  if (RunningJob* job = Find(id)) job->probe.reset();
}

Result<int64_t> WorkerEdge::SpawnChild(const ChildRequest& child) {
  auto pid = children_.Spawn(child);
  if (!pid.ok()) {
    spdlog::error("worker {}: cannot start child worker {}: {}", name_, child.name, pid.message());
    return pid.status();
  }
  if (auto st = registry_.Add(pid.value()); !st.ok()) spdlog::warn("worker: pid registry: {}", st.message());
  spdlog::info("worker {}: started {} worker {} (pid {}, {} slots{}) because {}; its log: {}", name_,
               child.manual ? "operator-requested" : "child", child.name, pid.value(), child.slots,
               child.port ? ", address port " + std::to_string(child.port) : "", child.reason,
               children_.LogOf(child.name));
  return int64_t{pid.value()};
}

void WorkerEdge::SignalChildren(int sig) { children_.Signal(sig); }

void WorkerEdge::RekeyJobCredentials(const std::string& server_key) {
  for (const auto& [id, job] : jobs_) {
    if (Status s = RekeyJobCredential(*job, server_key); !s.ok()) {
      spdlog::warn("worker: job {} keeps the old server key in its credential: {}", id, s.message());
    }
  }
}

namespace {

Observed ChildExited(const ChildWorkers::Exit& exit) {
  return Observed{.kind = Observed::Kind::kChildExit, .id = exit.name, .status = exit.status};
}

}  // namespace

std::vector<Observed> WorkerEdge::KillChildren() {
  std::vector<Observed> ended;
  for (const auto& exit : children_.KillAll()) {
    (void)registry_.Remove(exit.pid);
    ended.push_back(ChildExited(exit));
  }
  return ended;
}

Result<bool> WorkerEdge::NeedFile(const std::string& sha256, int64_t size) {
  return fetch_.Need(sha256, size);
}

std::vector<FileFetch::Ended> WorkerEdge::OnFetchReply(int64_t rid, const Message& reply) {
  std::vector<FileFetch::Ended> ended = fetch_.OnReply(rid, reply);
  for (const auto& e : ended) {
    if (e.status.ok())
      spdlog::info("worker {}: fetched file sha256 {} from the broker into the cache", name_, e.sha256);
  }
  return ended;
}

void WorkerEdge::SendFetches(BrokerLink& link) {
  if (link.state() != BrokerLink::State::kReady) return;
  std::vector<Message> requests = fetch_.TakeRequests();
  size_t sent = 0;
  while (sent < requests.size() && link.Send(requests[sent])) ++sent;
  requests.erase(requests.begin(), requests.begin() + static_cast<std::ptrdiff_t>(sent));
  if (!requests.empty()) fetch_.Unsent(std::move(requests));
}

void WorkerEdge::AddPollItems(std::vector<zmq::pollitem_t>* items, bool can_send) const {
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
    if (job->probe) {
      for (const PollFd& p : job->probe->PollFds()) add(p);
    }
  }
  for (const PollFd& p : children_.PollFds()) add(p);
}

void WorkerEdge::Pump(RunningJob& job) {
  for (exec::OutputCapture* c : {job.out.get(), job.err.get()}) {
    if (c == nullptr || c->eof()) continue;
    if (auto st = c->OnReadable(); !st.ok()) spdlog::warn("worker: job {} output: {}", job.id, st.message());
  }
}

void WorkerEdge::PumpOutput(bool can_send) {
  for (auto& [id, job] : jobs_) {
    if (can_send || job->exit) Pump(*job);
  }
}

void WorkerEdge::SendLogs(BrokerLink& link) {
  for (auto& [id, job] : jobs_) SendLogs(*job, link);
}

void WorkerEdge::SendLogs(RunningJob& job, BrokerLink& link) {
  while (!job.pending.empty() && link.state() == BrokerLink::State::kReady) {
    LogChunk& chunk = job.pending.front();
    wire::JobLogMsg log{.id = job.id,
                        .attempt = job.attempt,
                        .seq = job.next_seq,
                        .stream = std::string(exec::StreamName(chunk.stream))};
    log.blobs.push_back(std::move(chunk.bytes));  // moved, not copied: up to 64 KiB
    Message m = std::move(log).ToMessage();
    if (!link.Send(m)) {
      chunk.bytes = std::move(m.blobs.front());  // the socket is full: keep it for the next turn
      return;
    }
    ++job.next_seq;
    job.pending.erase(job.pending.begin());
  }
}

std::vector<Observed> WorkerEdge::Observe(int64_t now) {
  std::vector<Observed> seen;
  for (auto& [id, job] : jobs_) {
    std::optional<Observed> exited;
    if (job->child && !job->exit) {
      if ((job->exit = job->child->TryReap())) {
        Pump(*job);  // what it wrote last
        RunUsage usage;
        if (!job->cgroup.path().empty()) usage = UsageOf(job->cgroup.Usage());
        exited = Observed{.kind = Observed::Kind::kExit, .id = id, .status = *job->exit, .usage = usage};
      }
    }
    if (job->child && !job->output_reported && job->output_done() && job->pending.empty()) {
      job->output_reported = true;
      const bool truncated = job->log && job->log->truncated();
      if (truncated) {
        spdlog::warn("worker {}: job {}: its log file misses output: {}", name_, id,
                     job->log->truncation().message());
      }
      seen.push_back(Observed{.kind = Observed::Kind::kOutputDone, .id = id, .log_truncated = truncated});
    }
    // After its output's end: a run whose output is drained when its exit is seen ends in this turn,
    // with no separate signal to its group first (WorkerCore::OnExit).
    if (exited) seen.push_back(std::move(*exited));
    if (job->probe && job->probe->Check(now) != Probe::State::kPending) {
      const bool passed = job->probe->Check(now) == Probe::State::kPassed;
      seen.push_back(Observed{
          .kind = Observed::Kind::kProbe, .id = id, .passed = passed, .detail = job->probe->detail()});
      job->probe.reset();
    }
  }
  for (const auto& exit : children_.Reap()) {
    (void)registry_.Remove(exit.pid);
    if (exit.status.success()) {
      spdlog::info("worker {}: child worker {} (pid {}) exited", name_, exit.name, exit.pid);
    } else {
      spdlog::warn("worker {}: child worker {} (pid {}) ended: {}; see {}", name_, exit.name, exit.pid,
                   exit.status.Render(), children_.LogOf(exit.name));
    }
    seen.push_back(ChildExited(exit));
  }
  return seen;
}

int64_t WorkerEdge::NextDue(int64_t now) const {
  int64_t due = std::numeric_limits<int64_t>::max();
  for (const auto& [id, job] : jobs_) {
    if (job->probe) {  // a probe decided at once (a refused connect) has nothing to poll: observe it now
      due = std::min(due, job->probe->decided() ? now : job->probe->deadline());
    }
    if (job->child && !job->output_reported && job->output_done() && job->pending.empty()) due = now;
  }
  return due;
}

bool WorkerEdge::Owns(pid_t pid) const {
  if (children_.Owns(pid) || reaper_.pid() == pid || machine_.Owns(pid) || fork_servers_->Owns(pid))
    return true;
  for (const auto& [id, job] : jobs_) {
    if (job->child && job->child->pid() == pid) return true;
    if (job->probe && job->probe->pid() == pid) return true;
  }
  return false;
}

// The worker is the subreaper of its jobs' descendants: processes orphaned by a job are re-parented
// here and reaped now, so none lingers as a zombie. Processes we hold a handle for (job leaders,
// health-check commands, child workers) are left to it: it keeps them unreaped on purpose (their
// pid is their group id) and reports their exit.
void WorkerEdge::ReapOrphans() {
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    if (Owns(info.si_pid)) return;  // exited just now: its owner notices it next turn
    waitpid(info.si_pid, nullptr, WNOHANG);
  }
}

}  // namespace titan::worker
