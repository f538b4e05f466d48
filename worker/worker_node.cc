// The worker's event loop: the broker link, every job's output pipes and exit descriptors, probes,
// child workers and a signalfd, all in one zmq::poll on one thread, with monotonic time. Messages,
// signals and what the OS edge observed go to the WorkerCore; its commands are carried out here.
#include "worker/worker_node.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "base/clock.h"
#include "base/log_format.h"
#include "base/signal_watch.h"
#include "security/client_security.h"
#include "worker/capabilities.h"
#include "worker/capacity.h"
#include "worker/dir_lock.h"
#include "worker/job_cgroup.h"
#include "worker/runtime_facts.h"
#include "worker/runtimes.h"
#include "worker/worker_reaper.h"

namespace titan::worker {
namespace {

using wire::Message;
using wire::MsgType;

// The limits this worker enforces: its cgroups' controls; cpu_cores also without a cpuset cgroup
// (sched_setaffinity). Without cgroups nothing else: an rlimit is per process or per user, not per job.
std::vector<std::string> ControlsOf(const std::optional<exec::WorkerCgroups>& cgroups) {
  std::vector<std::string> controls = cgroups ? cgroups->controls() : std::vector<std::string>{};
  if (std::ranges::count(controls, "cpuset") == 0) controls.push_back("cpuset");
  std::vector<std::string> ordered;  // in the protocol's order
  for (const char* c : exec::kControls) {
    if (std::ranges::count(controls, c)) ordered.push_back(c);
  }
  return ordered;
}

// The --runtime flags, parsed (RunWorker refused bad ones before anything was built).
std::map<std::string, exec::Runtime> RuntimesOf(const WorkerOptions& o) {
  Result<std::map<std::string, exec::Runtime>> runtimes = exec::ParseRuntimes(o.runtimes);
  return runtimes.ok() ? std::move(runtimes).value() : std::map<std::string, exec::Runtime>{};
}

// The --runtime flags with absolute paths, for child workers (they run elsewhere in the file tree).
std::vector<std::string> RuntimeFlags(const WorkerOptions& o) {
  std::vector<std::string> flags;
  for (const auto& [name, runtime] : RuntimesOf(o)) flags.push_back(name + "=" + runtime.path);
  return flags;
}

// What WORKER_READY says of each runtime (worker/runtime_facts.h), measured once here.
std::vector<wire::RuntimeInfo> RuntimeInfoOf(const WorkerOptions& o) {
  std::vector<wire::RuntimeInfo> out;
  for (const auto& [name, runtime] : RuntimesOf(o)) {
    out.push_back(exec::MeasureRuntime(runtime));
    spdlog::info("worker: runtime {} ({}): {} bytes, {} Python distributions", name, runtime.path,
                 out.back().size_bytes ? std::to_string(*out.back().size_bytes) : "too many files to count",
                 out.back().packages ? out.back().packages->size() : 0);
  }
  return out;
}

std::vector<std::string> RuntimeNames(const WorkerOptions& o) {
  std::vector<std::string> names;
  for (const auto& [name, runtime] : RuntimesOf(o)) names.push_back(name);
  return names;
}

// <--dir>/volumes, absolute: where volumes live (worker/volumes.h).
std::string VolumesDirOf(const WorkerOptions& o) {
  return (std::filesystem::absolute(o.dir).lexically_normal() / "volumes").string();
}

WorkerCoreConfig CoreConfigOf(const WorkerOptions& o, const std::string& name,
                              const std::optional<exec::WorkerCgroups>& cgroups) {
  const Capacity capacity =
      DetectCapacity({.cpus = o.cpus, .memory_mb = o.memory_mb, .gpus = o.gpus}, exec::CurrentEnvironment());
  spdlog::info("worker: capacity for requests: {} millicores, {} MB, {} GPUs", capacity.cpu_milli,
               capacity.memory_mb, capacity.gpus.size());
  return WorkerCoreConfig{
      .name = name,
      .host = HostName(),
      .pid = getpid(),
      .slots = o.slots,
      .capabilities = DetectCapabilities(o.tags, o.high_mem_mb, capacity.memory_mb, !capacity.gpus.empty()),
      .runtimes = RuntimeNames(o),
      .runtime_info = RuntimeInfoOf(o),
      .volumes_dir = VolumesDirOf(o),
      .parent = o.parent,
      .address_port = o.address_port,
      .broker = o.host + ":" + std::to_string(o.port),
      .noop = o.executor == "noop",
      .kill_grace_ms = o.kill_grace_ms,
      .drain_grace_ms = o.drain_grace_ms,
      .controls = ControlsOf(cgroups),
      .limits_via = cgroups ? cgroups->via() : "rlimit",
      .cpu_milli = capacity.cpu_milli,
      .memory_mb = capacity.memory_mb,
      .gpus = capacity.gpus};
}

// What every job's process gets; creates the jobs and shared folders. Absolute paths, because jobs
// run in their own directory and get these paths in their environment.
JobContext JobContextOf(const WorkerOptions& o, std::optional<exec::WorkerCgroups> cgroups) {
  const std::filesystem::path dir = std::filesystem::absolute(o.dir).lexically_normal();
  JobContext ctx;
  ctx.jobs_dir = (dir / "titan_workspace" / "jobs").string();
  ctx.shared_dir = SharedDirOf(o);
  ctx.broker_host = o.host;
  ctx.broker_port = o.port;
  ctx.base_env = exec::CurrentEnvironment();
  // The worker's credential is the worker's: a job never inherits it (docs/security.md).
  std::erase_if(ctx.base_env, [](const std::string& kv) { return kv.rfind("TITAN_CREDENTIALS=", 0) == 0; });
  ctx.tools = exec::ResolveToolchain(ctx.base_env);
  ctx.cgroups = std::move(cgroups);
  if (ctx.cgroups) ctx.cgroup_pool = std::make_shared<exec::CgroupPool>(*ctx.cgroups);
  ctx.runtimes = RuntimesOf(o);
  ctx.volumes_dir = VolumesDirOf(o);
  ctx.cold_python = o.cold_python;
  std::error_code ec;
  std::filesystem::create_directories(ctx.jobs_dir, ec);
  std::filesystem::create_directories(ctx.shared_dir, ec);
  return ctx;
}

ChildWorkers ChildWorkersOf(const WorkerOptions& o, const std::string& name) {
  return ChildWorkers(ChildWorkerTemplate{.exe = SelfExe(),
                                          .host = o.host,
                                          .port = o.port,
                                          .parent = name,
                                          .dir = std::filesystem::absolute(o.dir).lexically_normal().string(),
                                          .shared_dir = SharedDirOf(o),
                                          .executor = o.executor,
                                          .tags = o.tags,
                                          .runtimes = RuntimeFlags(o),
                                          .credentials = o.credentials,
                                          .heartbeat_ms = o.heartbeat_ms,
                                          .kill_grace_ms = o.kill_grace_ms,
                                          .drain_grace_ms = o.drain_grace_ms,
                                          .log_format = o.log_format,
                                          .cold_python = o.cold_python});
}

// Samples this machine for heartbeats: free space of the filesystem of --dir; GPUs when nvidia-smi is on
// the PATH.
MachineProbe MachineProbeOf(const WorkerOptions& o) {
  return MachineProbe(std::filesystem::absolute(o.dir).lexically_normal().string(),
                      MachineProbe::FindNvidiaSmi(exec::CurrentEnvironment()));
}

// The directories of this worker's job cgroups, with what a previous life left there ended; nullopt
// when no cgroup can be made here (then said once: a job's processes that call setsid escape its
// cleanup, and no limit but cpu_cores is enforced).
std::optional<exec::WorkerCgroups> JobCgroups(const WorkerOptions& o) {
  const std::string key = exec::WorkerCgroupKey(o.name.empty() ? "worker" : o.name, o.dir);
  Result<exec::WorkerCgroups> cgroups = exec::OpenWorkerCgroups(key);
  if (!cgroups.ok()) {
    spdlog::warn(
        "worker: jobs run without cgroups ({}): a job's processes are ended by process group, so "
        "those that call setsid escape it (docs/operations.md, \"Job processes\"), and of the limits "
        "only cpu_cores is enforced (docs/job-control.md)",
        cgroups.message());
    return std::nullopt;
  }
  int ended = 0;  // counted in the primary hierarchy: a job is in each of them
  for (const std::string& dir : cgroups->Unique()) {
    const int busy = exec::EndCgroupsUnder(dir, /*remove_dir=*/false);
    if (dir == cgroups->Unique().front()) ended = busy;
  }
  if (ended > 0) spdlog::warn("worker: ended {} job cgroups left by a previous run", ended);
  std::string controls;
  for (const std::string& c : cgroups->controls()) controls += " " + c;
  spdlog::info("worker: job limits by {}:{}", cgroups->via(), controls.empty() ? " none" : controls);
  return std::move(cgroups).value();
}

std::vector<std::string> CgroupDirsOf(const std::optional<exec::WorkerCgroups>& cgroups) {
  return cgroups ? cgroups->Unique() : std::vector<std::string>{};
}

// The reaper that ends this worker's jobs if it dies (worker_reaper.h), and our end of the socket runs
// are handed over on (reaper_runs.h: it reports the runs that ended before a killed worker could); nullopt,
// logged, when it cannot be started. `o` carries the credential file this worker uses, `name` its name.
std::optional<std::pair<exec::ChildProcess, exec::UniqueFd>> StartReaperFor(
    const WorkerOptions& o, const std::string& name, const std::vector<std::string>& cgroup_dirs) {
  const std::optional<exec::ProcStat> self = exec::ReadProcStat(getpid());
  int pair[2] = {-1, -1};
  const bool watch = ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) == 0;
  exec::UniqueFd ours(watch ? pair[0] : -1), theirs(watch ? pair[1] : -1);
  if (!watch) spdlog::warn("worker: no socket to hand runs to the reaper: {}", strerror(errno));
  const ReaperOptions r{.worker_pid = getpid(),
                        .worker_start = self ? self->start_time : 0,
                        .registry = std::filesystem::absolute(o.dir + "/pids").string(),
                        .cgroup_dirs = cgroup_dirs,
                        .lock = std::filesystem::absolute(DirLockPath(o.dir)).string(),
                        .log_format = o.log_format,
                        .watch_runs = watch,
                        .worker_name = name,
                        .broker_host = o.host,
                        .broker_port = o.port,
                        .heartbeat_ms = o.heartbeat_ms,
                        .credentials = o.credentials};
  auto reaper = StartReaper(SelfExe(), r, o.dir + "/reaper.log", theirs.get());
  if (!reaper.ok()) {
    spdlog::warn(
        "worker: no reaper ({}): if this worker is killed, its jobs' processes other than their "
        "leaders run on until it restarts",
        reaper.message());
    return std::nullopt;
  }
  return std::make_pair(std::move(reaper.value()), std::move(ours));
}

}  // namespace

Worker::Worker(const WorkerOptions& o, exec::PidRegistry registry, artifacts::BlobStore cache,
               std::optional<security::Credential> credential, std::optional<exec::WorkerCgroups> cgroups)
    : name_(o.name.empty() ? HostName() + "-" + std::to_string(getpid()) : o.name),
      noop_(o.executor == "noop"),
      core_(CoreConfigOf(o, name_, cgroups)),
      edge_(name_, JobContextOf(o, std::move(cgroups)), std::move(registry), std::move(cache),
            ChildWorkersOf(o, name_), MachineProbeOf(o)),
      link_(
          ctx_, o.host, o.port, o.heartbeat_ms, [this] { return core_.ReadyMessage(); },
          std::move(credential)) {}

void Worker::SendControl(Message msg) {
  if (!unsent_.empty() || !link_.Send(msg)) unsent_.push_back(std::move(msg));
}

void Worker::FlushUnsent() {
  while (!unsent_.empty() && link_.state() == BrokerLink::State::kReady && link_.Send(unsent_.front())) {
    unsent_.pop_front();
  }
}

void Worker::Execute(Instant now) {
  for (std::vector<Command> commands; !(commands = core_.TakeCommands()).empty();) {
    for (const Command& c : commands) Execute(c, now);
  }
}

void Worker::Execute(const Command& c, Instant now) {
  using K = Command::Kind;
  switch (c.kind) {
    case K::kSend:
      return SendControl(c.msg);
    case K::kFetch: {
      const Result<bool> have = edge_.NeedFile(c.sha256, c.number);
      if (!have.ok() || have.value()) core_.OnFile(c.sha256, have.ok() ? Status::Ok() : have.status());
      return;  // else: OnFile when the fetch ends
    }
    case K::kLaunch:
      return core_.OnLaunched(c.id, c.attempt, edge_.Launch(c.assign), now);
    case K::kRespawn:
      return core_.OnLaunched(c.id, c.attempt, edge_.Respawn(c.id, c.number), now);
    case K::kSpawnChild:
      if (edge_.SpawnChild(c.child).ok()) core_.OnChildStarted(c.child.name);
      return;
    case K::kKillChildren:
      for (const Observed& ended : edge_.KillChildren()) core_.OnChildExit(ended.id);
      return;
    case K::kReregister:
      return link_.Reregister(now);
    case K::kRenewRegistration:
      return link_.Reregister(now, /*hold=*/false);
    case K::kNewSession:
      unsent_.clear();
      edge_.RestartFetches();  // reads in flight on the old connection are lost
      return;
    case K::kAnnounce:
      return AnnounceReady("worker", name_);
    default:
      return ExecuteOnEdge(c, now.mono_ms);
  }
}

// The commands that need no answer: process groups, output, probes, child workers' signals.
void Worker::ExecuteOnEdge(const Command& c, int64_t now) {
  using K = Command::Kind;
  switch (c.kind) {
    case K::kSignal:
      return edge_.Signal(c.id, static_cast<int>(c.number));
    case K::kAbandonOutput:
      return edge_.AbandonOutput(c.id);
    case K::kEndRun:
      return edge_.EndRun(c.id);
    case K::kForget:
      return edge_.Forget(c.id);
    case K::kAcked:
      return edge_.Acked(c.id, c.attempt);
    case K::kRunsGrace:
      return edge_.RunsGrace(c.number);
    case K::kNote:
      return edge_.Note(c.id, c.text);
    case K::kStartProbe:
      return edge_.StartProbe(c.id, c.probe, now);
    case K::kStopProbe:
      return edge_.StopProbe(c.id);
    case K::kSignalChildren:
      return edge_.SignalChildren(static_cast<int>(c.number));
    case K::kEnsureVolumes:
      return edge_.EnsureVolumes(c.volumes);
    case K::kDeleteVolume:
      return edge_.DeleteVolume(c.id);
    default:
      spdlog::error("worker: command {} reached the OS edge", Render(c));  // a bug of ours
  }
}

void Worker::Route(const Inbound& in, Instant now) {
  if (in.msg.type == MsgType::kArtifactData || (in.msg.type == MsgType::kError && in.rid)) {
    if (in.rid) {  // file reads are the worker's only requests with a rid
      for (const auto& ended : edge_.OnFetchReply(*in.rid, in.msg)) core_.OnFile(ended.sha256, ended.status);
    }
  } else {
    core_.OnMessage(in.msg, now);
  }
  Execute(now);
}

void Worker::Feed(const Observed& seen, Instant now) {
  switch (seen.kind) {
    case Observed::Kind::kExit:
      return core_.OnExit(seen.id, seen.status, now, seen.usage);
    case Observed::Kind::kOutputDone:
      return core_.OnOutputDone(seen.id, seen.log_truncated);
    case Observed::Kind::kProbe:
      return core_.OnProbe(seen.id, seen.passed, seen.detail, now);
    case Observed::Kind::kChildExit:
      return core_.OnChildExit(seen.id);
  }
}

int64_t Worker::NextDue(Instant now, int64_t link_due) const {
  int64_t due = std::min({link_due, core_.NextDue(now), edge_.NextDue(now.mono_ms)});
  if (!unsent_.empty()) due = std::min(due, now.mono_ms + 5);  // retry soon: the broker is reading its queue
  return due;
}

int Worker::Run() {
  const LogScope ids({{"worker", name_}});  // every json log line of this worker names it
  SignalWatch signals;
  if (!noop_) edge_.PrewarmPython();
  std::vector<zmq::pollitem_t> items;
  while (!core_.done()) {
    Instant now = Now();
    const int64_t link_due =
        link_.Tick(now, [&] { return core_.Heartbeat(edge_.SampleMachine(now.mono_ms)); });
    const int64_t due = NextDue(now, link_due);
    const bool can_send = link_.state() == BrokerLink::State::kReady && link_.Writable();
    items.assign(3, zmq::pollitem_t{});
    items[0] = signals.PollItem();
    items.resize(1 + link_.AddPollItems(&items[1], !can_send && core_.Busy() > 0));
    edge_.AddPollItems(&items, can_send);
    try {
      zmq::poll(items.data(), items.size(),
                std::chrono::milliseconds(std::max<int64_t>(0, due - now.mono_ms)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
    now = Now();
    core_.BeginTurn(now);
    if (items[0].revents & ZMQ_POLLIN) {
      core_.OnSignal(signals.Take(), now);
      Execute(now);
    }
    const std::vector<Inbound> inbound = link_.Receive(now);
    if (link_.TakeHeard()) core_.OnContact(now);  // heartbeats included, which the link keeps
    for (const Inbound& in : inbound) Route(in, now);
    if (std::optional<std::string> key = link_.TakeNewServerKey()) edge_.RekeyJobCredentials(*key);
    FlushUnsent();
    edge_.SendFetches(link_);
    edge_.PumpOutput(can_send);
    edge_.SendLogs(link_);
    for (const Observed& seen : edge_.Observe(now.mono_ms)) Feed(seen, now);
    core_.OnTick(now);
    Execute(now);
    edge_.ReapOrphans();
  }
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
  if (auto runtimes = exec::ParseRuntimes(options.runtimes); !runtimes.ok()) {
    spdlog::error("worker: {}", runtimes.message());
    return 2;
  } else {
    for (const auto& [name, r] : *runtimes)
      spdlog::info("worker: runtime {}: {} (.py scripts run with {})", name, r.path,
                   r.python.empty() ? "the worker's python" : r.python);
  }
  std::error_code made;
  std::filesystem::create_directories(options.dir, made);
  // Held for this whole run; taken before anything a previous run left is ended (dir_lock.h).
  Result<exec::UniqueFd> dir_lock = LockDir(DirLockPath(options.dir), std::chrono::seconds(60));
  if (!dir_lock.ok()) {
    spdlog::error("worker: {}", dir_lock.message());
    return 1;
  }
  auto registry = exec::PidRegistry::Open(options.dir + "/pids");
  if (!registry.ok()) {
    spdlog::error("worker: {}", registry.message());
    return 1;
  }
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
  Result<std::optional<security::Credential>> credential =
      security::FindCredential(options.credentials, options.host, options.port);
  if (!credential.ok()) {
    spdlog::error("worker: {}", credential.message());
    return 1;
  }
  WorkerOptions with_credential = options;  // child workers get the file this worker uses
  if (*credential) with_credential.credentials = std::filesystem::absolute((*credential)->path).string();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  std::optional<exec::WorkerCgroups> cgroups;
  if (options.cgroups) {
    cgroups = JobCgroups(options);
  } else {
    spdlog::info("worker: --no-cgroups: jobs run without cgroups; of the limits only cpu_cores is enforced");
  }
  const std::vector<std::string> cgroup_dirs = CgroupDirsOf(cgroups);
  int code;
  {
    Worker worker(with_credential, std::move(registry.value()), std::move(cache.value()),
                  std::move(*credential), std::move(cgroups));
    if (auto reaper = StartReaperFor(with_credential, worker.name(), cgroup_dirs))
      worker.AdoptReaper(std::move(reaper->first), std::move(reaper->second));
    code = worker.Run();
  }  // its jobs, and their cgroups, are ended; then its reaper
  for (const std::string& dir : cgroup_dirs) exec::EndCgroupsUnder(dir, /*remove_dir=*/true);
  return code;
}

}  // namespace titan::worker
