// BrokerCore: the client dialog (submit, status, list, logs, stop, wait, stats).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_set>

#include "artifact_name.h"
#include "broker_core.h"
#include "sha256.h"

namespace titan::broker {

using wire::Datum;
using wire::ErrorCode;
using wire::Message;
using wire::MsgType;
using wire::Text;

namespace {

constexpr int64_t kMaxLogRead = 2 * 1024 * 1024;
constexpr int64_t kMaxWaitMs = 300000;
constexpr size_t kMaxIdBytes = 256;

int64_t IntField(const wire::Map& m, std::string_view name, int64_t dflt) {
  const Datum* d = wire::FindField(m, name);
  return d ? std::get<int64_t>(d->v) : dflt;
}

std::string StrField(const wire::Map& m, std::string_view name, std::string dflt = {}) {
  const Datum* d = wire::FindField(m, name);
  return d ? std::string(d->bytes()) : dflt;
}

bool JobSpecField(std::string_view name) {
  for (const auto& s : wire::AllStructs()) {
    if (s.name != "JobSpec") continue;
    for (const auto& f : s.fields) {
      if (f.name == name) return true;
    }
  }
  return false;
}

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  return std::none_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

// Ids on a cycle among `jobs` (Kahn's algorithm over edges inside the submission), sorted.
std::vector<std::string> CycleMembers(const std::vector<Job>& jobs) {
  std::unordered_map<std::string, int> indegree;
  std::unordered_map<std::string, std::vector<std::string>> children;
  for (const auto& j : jobs) indegree[j.id];
  for (const auto& j : jobs) {
    for (const auto& p : j.parents) {
      if (indegree.count(p)) {
        ++indegree[j.id];
        children[p].push_back(j.id);
      }
    }
  }
  std::vector<std::string> ready;
  for (const auto& [id, d] : indegree) {
    if (d == 0) ready.push_back(id);
  }
  while (!ready.empty()) {
    const std::string id = ready.back();
    ready.pop_back();
    indegree.erase(id);
    for (const auto& c : children[id]) {
      if (--indegree[c] == 0) ready.push_back(c);
    }
  }
  std::vector<std::string> left;
  for (const auto& [id, d] : indegree) left.push_back(id);
  std::sort(left.begin(), left.end());
  return left;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

void BrokerCore::Reply(const Route& to, std::optional<int64_t> rid, Message msg) {
  if (rid) msg.Set("rid", Datum(*rid));
  outbox_.push_back(Outgoing{Outgoing::kClient, to, {}, {}, std::move(msg)});
}

void BrokerCore::OnClient(const Route& from, std::optional<int64_t> rid, const Message& req, int64_t now) {
  if (ArtifactService::Handles(req.type)) return Reply(from, rid, HandleArtifact(req, now));
  switch (req.type) {
    case MsgType::kHello: {
      Message m = wire::MakeMessage(MsgType::kWelcome);
      m.Set("node", Datum(Text{"broker"})).Set("version", Datum(Text{TITAN_VERSION}));
      if (config_.store_port) m.Set("store_port", Datum(int64_t{config_.store_port}));
      if (!config_.store_host.empty()) m.Set("store_host", Datum(Text{config_.store_host}));
      m.Set("worker_port", Datum(int64_t{config_.worker_port}))
          .Set("pub_port", Datum(int64_t{config_.pub_port}));
      return Reply(from, rid, std::move(m));
    }
    case MsgType::kJobSubmit:
      return Reply(from, rid, Submit(req, now));
    case MsgType::kJobGet:
      return Reply(from, rid, JobInfoReply(std::string(req.Bytes("id"))));
    case MsgType::kJobList:
      return Reply(from, rid, ListJobs(req));
    case MsgType::kJobLogs:
      return Reply(from, rid, ReadLogs(req));
    case MsgType::kJobStop:
      return Reply(from, rid, Stop(std::string(req.Bytes("id")), now));
    case MsgType::kStatsGet:
      return Reply(from, rid, Stats(now));
    case MsgType::kWorkerStop:
      return Reply(from, rid, StopWorker(std::string(req.Bytes("name")), now));
    case MsgType::kWorkerAdd:
      return Reply(from, rid, AddWorker(req, now));
    case MsgType::kGateDecide:
      return Reply(from, rid, DecideGate(req, now));
    case MsgType::kDagList:
      return Reply(from, rid, DagList(req));
    case MsgType::kDagGet:
      return Reply(from, rid, DagGet(std::string(req.Bytes("id"))));
    case MsgType::kDagCancel:
      return Reply(from, rid, DagCancel(std::string(req.Bytes("id")), now));
    case MsgType::kRunList:
      return Reply(from, rid, RunList(req));
    case MsgType::kScheduleAdd:
      return Reply(from, rid, ScheduleAdd(req, now));
    case MsgType::kScheduleList:
      return Reply(from, rid, ScheduleList());
    case MsgType::kScheduleRemove:
      return Reply(from, rid, ScheduleRemove(std::string(req.Bytes("name"))));
    case MsgType::kJobWait: {
      const Job* job = Resolve(std::string(req.Bytes("id")));
      const int64_t timeout = std::clamp<int64_t>(req.Int("timeout_ms"), 0, kMaxWaitMs);
      if (job == nullptr || IsFinal(job->state) || timeout == 0) {
        return Reply(from, rid, JobInfoReply(std::string(req.Bytes("id"))));
      }
      const int64_t key = next_waiter_++;
      waiters_[key] = Waiter{from, rid, job->id, now + timeout};
      waiters_by_job_.emplace(job->id, key);
      timers_.push(Timer{now + timeout, TimerKind::kWaiter, std::to_string(key)});
      return;
    }
    default:
      return Reply(from, rid,
                   wire::MakeError(ErrorCode::kUnknownType, std::string(wire::NameOf(req.type)) +
                                                                " is not a request the broker answers"));
  }
}

// The content a job runs: a file sent with the submission, else the artifact deployed under that
// name (for an archive job, the project zip named by the path's ".zip" component).
std::optional<Message> BrokerCore::ResolveFile(Job& j, const wire::Map& spec,
                                               const std::unordered_map<std::string, std::string>& sent) {
  std::string name = j.file;
  if (const Datum* a = wire::FindField(spec, "archive"); a && std::get<bool>(a->v)) {
    auto split = artifacts::SplitArchivePath(j.file);
    if (!split) {
      return Invalid("job '" + j.id +
                     "' is an archive job, so its file must be '<project>.zip/<entry>' (for example "
                     "'proj.zip/src/main.py'), not '" +
                     j.file + "'");
    }
    name = split->archive;
  }
  if (auto it = sent.find(name); it != sent.end()) {
    j.file_hash = it->second;
    return std::nullopt;
  }
  if (artifacts_ == nullptr)
    return Invalid("job '" + j.id + "' runs '" + name + "' but the submission has no such file");
  auto deployed = artifacts_->Deployed(name);
  if (!deployed.ok()) {
    return wire::MakeError(ErrorCode::kNotFound,
                           "job '" + j.id + "' runs '" + name +
                               "', which was neither sent with the submission nor deployed (" +
                               deployed.message() + ")");
  }
  j.file_hash = deployed->sha256;
  return std::nullopt;
}

std::string BrokerCore::ContentHash(std::string_view content) {
  // The fingerprint only picks a candidate (the bytes are compared in full below), so it samples: the
  // size and three 256-byte windows, not the whole content.
  constexpr size_t kWindow = 256;
  auto window = [&](size_t at) { return content.substr(std::min(at, content.size()), kWindow); };
  const std::hash<std::string_view> h;
  const uint64_t fingerprint = h(window(0)) ^ (h(window(content.size() / 2)) * 31) ^
                               (h(window(content.size() > kWindow ? content.size() - kWindow : 0)) * 961) ^
                               (content.size() * 0x9E3779B97F4A7C15ull);
  auto known = sha_by_fingerprint_.find(fingerprint);
  if (known != sha_by_fingerprint_.end()) {
    auto file = files_.find(known->second);
    if (file != files_.end() && *file->second == content) return known->second;
  }
  std::string sha = artifacts::Sha256Hex(content);
  sha_by_fingerprint_[fingerprint] = sha;
  return sha;
}

std::optional<Message> BrokerCore::HashFiles(const wire::List& blobs,
                                             std::unordered_map<std::string, std::string>* files) {
  for (const auto& f : blobs) {
    const auto& m = std::get<wire::Map>(f.v);
    const std::string name = StrField(m, "name");
    if (files->count(name)) {
      return Invalid("file '" + name + "' appears twice in this submission; send each file once");
    }
    const Datum* content = wire::FindField(m, "content");
    const Datum* sha = wire::FindField(m, "sha256");
    if (content != nullptr && !content->is_nil()) {
      (*files)[name] = ContentHash(content->bytes());
    } else if (sha != nullptr && !sha->is_nil()) {
      const std::string hash(sha->bytes());
      if (!artifacts::IsSha256Hex(hash)) {
        return Invalid("file '" + name + "': sha256 '" + hash + "' is not 64 lowercase hex digits");
      }
      if (!files_.count(hash)) {
        return wire::MakeError(ErrorCode::kNotFound,
                               "file '" + name + "' was sent by its sha256 " + hash +
                                   ", which this broker does not have; send its content");
      }
      (*files)[name] = hash;
    } else {
      return Invalid("file '" + name + "' has neither content nor sha256; send one of them");
    }
  }
  return std::nullopt;
}

Message BrokerCore::Submit(const Message& req, int64_t now) {
  // Files first: name -> hash.
  std::unordered_map<std::string, std::string> files;  // name -> content hash
  if (auto refused = HashFiles(std::get<wire::List>(req.Find("files")->v), &files)) return *refused;
  const std::string dag = std::string(req.Bytes("dag"));
  std::vector<Job> batch;
  std::unordered_set<std::string> ids;
  const auto& specs = std::get<wire::List>(req.Find("jobs")->v);
  if (specs.empty()) return Invalid("the submission has no jobs; add at least one job");
  for (const auto& d : specs) {
    const auto& spec = std::get<wire::Map>(d.v);
    Job j;
    j.id = StrField(spec, "id");
    if (!ValidId(j.id)) return Invalid("job id '" + j.id + "' is empty, too long or has control characters");
    if (!ids.insert(j.id).second) return Invalid("job id '" + j.id + "' appears twice in this submission");
    if (Resolve(j.id) != nullptr && jobs_.count(j.id)) {
      return Invalid("job id '" + j.id + "' already exists; choose another id");
    }
    // Keep only the fields JobSpec defines: the spec is journaled and read back on recovery, so a
    // client must not be able to plant internal keys (such as a gate's) in it.
    for (const auto& [k, v] : spec) {
      if (JobSpecField(k) && !v.is_nil()) j.spec.emplace_back(k, v);
    }
    j.file = StrField(spec, "file");
    if (auto refused = ResolveFile(j, spec, files)) return *refused;
    j.requirement = StrField(spec, "requirement", "GENERAL");
    std::transform(j.requirement.begin(), j.requirement.end(), j.requirement.begin(), ::toupper);
    if (j.requirement.empty()) j.requirement = "GENERAL";
    j.priority = IntField(spec, "priority", 1);
    j.delay_ms = IntField(spec, "delay_ms", 0);
    j.retries = IntField(spec, "retries", 0);
    if (j.delay_ms < 0 || j.retries < 0 || j.retries > 100 || IntField(spec, "timeout_ms", 0) < 0) {
      return Invalid("job '" + j.id + "': delay_ms and timeout_ms must be >= 0 and retries within 0..100");
    }
    if (const Datum* a = wire::FindField(spec, "affinity")) j.affinity = std::get<bool>(a->v);
    const std::string type = StrField(spec, "job_type", "RUN_PAYLOAD");
    if (type != "RUN_PAYLOAD" && type != "SERVICE") {
      return Invalid("job '" + j.id + "': job_type '" + type + "' is unknown; use RUN_PAYLOAD or SERVICE");
    }
    j.service = type == "SERVICE";
    j.port = IntField(spec, "port", 0);
    if (j.port < 0 || j.port > 65535) return Invalid("job '" + j.id + "': port must be within 0..65535");
    if (const Datum* p = wire::FindField(spec, "parents")) {
      for (const auto& parent : std::get<wire::List>(p->v)) j.parents.emplace_back(parent.bytes());
    }
    batch.push_back(std::move(j));
  }
  const std::string dag_id = NewDagId(dag.empty() ? batch.front().id : dag);
  for (auto& j : batch) j.dag = dag_id;
  if (auto refused = InsertGates(batch)) return *refused;
  for (const auto& j : batch) {
    if (j.gate && !ids.insert(j.id).second)
      return Invalid("gate id '" + j.id + "' is also a job id in this submission");
  }
  std::vector<std::string> unknown;
  for (const auto& j : batch) {
    for (const auto& p : j.parents) {
      if (!ids.count(p) && Resolve(p) == nullptr) unknown.push_back(j.id + " -> " + p);
    }
  }
  if (!unknown.empty())
    return Invalid("unknown parent ids (child -> parent): " + Join(unknown) + "; nothing was submitted");
  if (auto cycle = CycleMembers(batch); !cycle.empty()) {
    return Invalid("the jobs form a cycle through: " + Join(cycle) + "; nothing was submitted");
  }
  // Accept: journal files and jobs, then place each job.
  if (Status s = journal_->BeginIfNeeded(); !s.ok()) {
    return wire::MakeError(ErrorCode::kUnavailable, "journal unavailable (" + s.message() + "); retry later");
  }
  for (const auto& f : std::get<wire::List>(req.Find("files")->v)) {
    const auto& m = std::get<wire::Map>(f.v);
    const Datum* bytes = wire::FindField(m, "content");
    if (bytes == nullptr || bytes->is_nil()) continue;  // sent by its sha256: the broker has it
    const std::string& hash = files[StrField(m, "name")];
    if (files_.count(hash)) continue;
    auto content = std::make_shared<const std::string>(bytes->bytes());
    journal_->InsertFile(hash, StrField(m, "name"), *content);
    files_[hash] = std::move(content);
  }
  Dag record{dag_id, dag.empty() ? dag_id : dag, std::string(req.Bytes("agent_run_id")), {}, now};
  wire::List accepted;
  for (auto& j : batch) {
    record.job_ids.push_back(j.id);
    j.seq = next_seq_++;
    j.submitted_ms = now;
    j.state = JobState::kPending;
    j.journal_owed = Job::Owed::kInsert;  // written by CommitTurn, with the state the turn leaves it in
    owed_.push_back(j.id);
    accepted.push_back(Datum(Text{j.id}));
    order_.push_back(j.id);
    jobs_.emplace(j.id, std::move(j));
  }
  // Link parents to children, then decide each job's first state.
  for (const auto& d : accepted) {
    Job& j = jobs_.at(std::string(d.bytes()));
    const Job* failed_parent = nullptr;
    for (const auto& p : j.parents) {
      Job* parent = Resolve(p);
      parent->children.push_back(j.id);
      if (parent->state != JobState::kCompleted) ++j.unmet_parents;
      if (IsFinal(parent->state) && parent->state != JobState::kCompleted) failed_parent = parent;
    }
    if (failed_parent != nullptr) {
      Finish(j, JobState::kSkipped,
             "parent " + failed_parent->id + " ended " + StateName(failed_parent->state), now);
    } else if (j.unmet_parents > 0) {
      j.reason = "waiting for parents";
      Transition(j, JobState::kBlocked, now);
    } else {
      MakeReady(j, now, true);
    }
  }
  if (Status st = journal_->InsertDag(record); !st.ok()) spdlog::error("broker: journal: {}", st.message());
  dag_order_.push_back(dag_id);
  dags_.emplace(dag_id, std::move(record));
  return wire::MakeMessage(MsgType::kJobAccepted)
      .Set("ids", Datum(std::move(accepted)))
      .Set("dag", Datum(Text{dag_id}));
}

Message BrokerCore::JobInfoReply(const std::string& id) const {
  const Job* job = Resolve(id);
  Message m = wire::MakeMessage(MsgType::kJobInfo).Set("found", Datum(job != nullptr));
  if (job != nullptr) {
    Datum info = RenderJobInfo(*job);
    const std::string reason = QueuedReason(*job);
    if (!reason.empty()) {
      auto& map = std::get<wire::Map>(info.v);
      std::erase_if(map, [](const auto& kv) { return kv.first == "reason"; });
      map.emplace_back("reason", Datum(Text{reason}));
    }
    m.Set("job", std::move(info));
  }
  return m;
}

Message BrokerCore::ListJobs(const Message& req) const {
  std::optional<JobState> filter;
  if (req.Has("state")) {
    filter = StateFromName(req.Bytes("state"));
    if (!filter)
      return Invalid("unknown state '" + std::string(req.Bytes("state")) +
                     "'; use one of PENDING BLOCKED "
                     "SCHEDULED QUEUED RUNNING WAITING_APPROVAL COMPLETED FAILED CANCELLED DEAD SKIPPED");
  }
  const size_t limit = static_cast<size_t>(std::clamp<int64_t>(req.Int("limit"), 1, 10000));
  wire::List out;
  bool truncated = false;
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const Job& job = jobs_.at(*it);
    if (filter && job.state != *filter) continue;
    if (req.Has("job_type") && req.Bytes("job_type") != (job.service ? "SERVICE" : "RUN_PAYLOAD")) continue;
    if (out.size() == limit) {
      truncated = true;
      break;
    }
    out.push_back(RenderJobInfo(job));
  }
  return wire::MakeMessage(MsgType::kJobListReply)
      .Set("jobs", Datum(std::move(out)))
      .Set("truncated", Datum(truncated));
}

Message BrokerCore::ReadLogs(const Message& req) const {
  const Job* job = Resolve(std::string(req.Bytes("id")));
  if (job == nullptr) return Invalid("no job '" + std::string(req.Bytes("id")) + "'; see `titan jobs`");
  const int64_t offset = std::max<int64_t>(0, req.Int("offset"));
  const int64_t max = std::clamp<int64_t>(req.Int("max_bytes"), 1, kMaxLogRead);
  std::string data = logs_->Read(job->id, offset, max);
  const int64_t next = offset + static_cast<int64_t>(data.size());
  const bool complete = IsFinal(job->state) && next >= logs_->Size(job->id);
  Message m = wire::MakeMessage(MsgType::kJobLogData);
  m.Set("id", Datum(Text{job->id})).Set("offset", Datum(offset)).Set("next_offset", Datum(next));
  m.Set("complete", Datum(complete));
  m.blobs.push_back(std::move(data));
  return m;
}

Message BrokerCore::Stop(const std::string& id, int64_t now) {
  Job* job = Resolve(id);
  if (job == nullptr) return Invalid("no job '" + id + "'; see `titan jobs`");
  job->stop_requested = true;
  if (job->state == JobState::kRunning) {
    auto w = workers_.find(job->worker);
    if (w != workers_.end()) {
      SendWorker(w->second, wire::MakeMessage(MsgType::kJobCancel)
                                .Set("id", Datum(Text{job->id}))
                                .Set("attempt", Datum(job->attempt))
                                .Set("reason", Datum(Text{"stopped by request"})));
    } else {
      // Its worker is gone (not yet returned after a restart): nothing runs it here, so it ends now;
      // a worker that comes back with this run is told to cancel it (it is no longer expected).
      Finish(*job, JobState::kCancelled, "stopped by request", now);
    }
  } else if (!IsFinal(job->state)) {
    if (job->state == JobState::kQueued)
      ready_[job->requirement].erase(QueueKey{-job->priority, job->seq, job->id});
    Finish(*job, JobState::kCancelled, "stopped by request", now);
  }
  return JobInfoReply(job->id);
}

Message BrokerCore::Stats(int64_t now) const {
  int64_t counts[kStateCount] = {};
  for (const auto& [id, job] : jobs_) ++counts[static_cast<int>(job.state)];
  int64_t unsatisfiable = 0;
  for (const auto& [requirement, queue] : ready_) {
    if (!queue.empty() && !AnyWorkerCan(requirement)) unsatisfiable += static_cast<int64_t>(queue.size());
  }
  wire::List workers;
  for (const auto& [name, w] : workers_) workers.push_back(RenderWorker(w, now));
  auto n = [&](JobState s) { return Datum(counts[static_cast<int>(s)]); };
  return wire::MakeMessage(MsgType::kStats)
      .Set("workers", Datum(std::move(workers)))
      .Set("pending", n(JobState::kPending))
      .Set("blocked", n(JobState::kBlocked))
      .Set("scheduled", n(JobState::kScheduled))
      .Set("queued", n(JobState::kQueued))
      .Set("running", n(JobState::kRunning))
      .Set("unsatisfiable", Datum(unsatisfiable))
      .Set("completed", n(JobState::kCompleted))
      .Set("failed",
           Datum(counts[static_cast<int>(JobState::kFailed)] + counts[static_cast<int>(JobState::kDead)]))
      .Set("scaling", Datum(wire::List(scale_events_.begin(), scale_events_.end())));
}

Message BrokerCore::StopWorker(const std::string& name, int64_t now) {
  auto it = workers_.find(name);
  if (it == workers_.end()) return Invalid("no worker named '" + name + "'; see `titan stats`");
  it->second.draining = true;
  PublishWorker(it->second, "draining", now);
  SendWorker(it->second,
             wire::MakeMessage(MsgType::kWorkerDrain).Set("reason", Datum(Text{"shutdown requested"})));
  return wire::MakeMessage(MsgType::kOk);
}

}  // namespace titan::broker
