// BrokerCore: JOB_SUBMIT. The whole submission is validated first (files, ids, types, parents,
// cycles) and refused as a whole with a message naming what is wrong; only then is it accepted:
// journaled, its files staged in perm_files, earlier runs of reused ids moved to history, and each
// job placed in its first state.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <queue>
#include <unordered_set>

#include "artifacts/artifact_name.h"
#include "artifacts/sha256.h"
#include "broker/broker_core.h"
#include "broker/job_limits_check.h"
#include "broker/job_demand.h"
#include "broker/job_payload.h"

namespace titan::broker {

namespace {

constexpr size_t kMaxIdBytes = 256;
constexpr int64_t kMaxPriority = 1'000'000'000;  // queues order by -priority: INT64_MIN would overflow

bool ValidId(const std::string& id) {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  return std::none_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

// The job_type a spec names, canonical: "SERVICE", or "" for a run-once job (RUN_PAYLOAD, and the
// original Titan's TASK and RUN, any case). nullopt: a type Titan does not know.
std::optional<std::string> CanonicalType(const std::string& type) {
  const std::string t = Upper(type);
  if (t == "SERVICE") return "SERVICE";
  if (t.empty() || t == "RUN_PAYLOAD" || t == "TASK" || t == "RUN") return "";
  return std::nullopt;
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

// The batch reordered so that a parent inside it comes before its children (stable otherwise), so
// the journal's submission order lets recovery link each job to the parent run it was submitted with.
// The batch has no cycle (checked before).
void ParentsFirst(std::vector<Job>& batch) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < batch.size(); ++i) index[batch[i].id] = i;
  std::vector<size_t> waiting(batch.size(), 0);  // parents inside the batch not yet placed
  std::vector<std::vector<size_t>> children(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    for (const auto& p : batch[i].parents) {
      if (auto it = index.find(p); it != index.end()) {
        ++waiting[i];
        children[it->second].push_back(i);
      }
    }
  }
  // Kahn's algorithm, always taking the lowest index that is free: submission order otherwise.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<size_t>> free;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (waiting[i] == 0) free.push(i);
  }
  std::vector<Job> out;
  out.reserve(batch.size());
  while (!free.empty()) {
    const size_t i = free.top();
    free.pop();
    out.push_back(std::move(batch[i]));
    for (size_t c : children[i]) {
      if (--waiting[c] == 0) free.push(c);
    }
  }
  batch = std::move(out);
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

std::optional<Message> BrokerCore::CheckIdFree(const std::string& id, const char* what) const {
  auto it = jobs_.find(id);
  if (it == jobs_.end() || IsFinal(it->second.state)) return std::nullopt;
  const Job& live = it->second;
  return Invalid(std::string(what) + " id '" + id + "' is in use: run " + std::to_string(live.run) +
                 " of it is still " + StateName(live.state) +
                 ". An id can be submitted again once every earlier job of that id has ended; wait for it "
                 "(`titan status " +
                 id + "`), stop it (`titan stop " + id + "`), or choose another id");
}

std::optional<Message> OutOfRange(const std::string& job, const char* field, int64_t value, int64_t lo,
                                  int64_t hi, const char* hi_in_words) {
  if (value >= lo && value <= hi) return std::nullopt;
  return Invalid("job '" + job + "': " + field + " " + std::to_string(value) + " is out of range; use " +
                 std::to_string(lo) + ".." + std::to_string(hi) +
                 (*hi_in_words ? std::string(" (") + hi_in_words + ")" : std::string()));
}

std::optional<Message> BrokerCore::ParseJob(const wire::JobSpec& spec,
                                            const std::unordered_map<std::string, std::string>& files,
                                            Job* out) {
  Job& j = *out;
  j.id = spec.id;
  if (!ValidId(j.id)) return Invalid("job id '" + j.id + "' is empty, too long or has control characters");
  if (auto refused = CheckIdFree(j.id, "job")) return refused;
  // Only the fields JobSpec defines reach here (JobSpec::From drops the rest): the spec is journaled
  // and read back on recovery, so a client cannot plant internal keys (such as a gate's) in it.
  j.spec = spec;
  const std::string type = spec.job_type.value_or("");
  const std::optional<std::string> canonical = CanonicalType(type);
  if (canonical) j.spec.job_type = canonical->empty() ? std::nullopt : canonical;
  ApplySpec(j);
  if (std::string problem = PayloadProblem(spec); !problem.empty())
    return Invalid("job '" + j.id + "': " + problem);
  if (auto refused = CheckJobVolumes(spec)) return refused;
  if (!IsCommandJob(spec)) {
    if (auto refused = ResolveFile(j, files)) return refused;
  }
  if (auto refused = OutOfRange(j.id, "delay_ms", j.delay_ms, 0, kMaxDelayMs, "ten years")) return refused;
  if (auto refused =
          OutOfRange(j.id, "timeout_ms", spec.timeout_ms.value_or(0), 0, kMaxTimeoutMs, "one year"))
    return refused;
  if (auto refused = OutOfRange(j.id, "retries", j.retries, 0, 100, "")) return refused;
  if (auto refused = CheckRequests(spec)) return refused;  // cpu_milli, memory_mb, gpus (job_demand.h)
  if (!canonical) {
    return Invalid(
        "job '" + j.id + "': job_type '" + type +
        "' is unknown; use RUN_PAYLOAD (or TASK) for a job that runs once, SERVICE for one kept running");
  }
  if (j.port < 0 || j.port > 65535) return Invalid("job '" + j.id + "': port must be within 0..65535");
  if (const std::string lost = spec.on_worker_lost.value_or("requeue"); lost != "requeue" && lost != "fail") {
    return Invalid("job '" + j.id + "': on_worker_lost '" + lost +
                   "' is unknown; use \"requeue\" (run it again elsewhere, the default) or \"fail\" (never "
                   "run it twice)");
  }
  for (const std::string& e : spec.secret_env.value_or(std::vector<std::string>{})) {
    if (e.find('=') == 0 || e.find('=') == std::string::npos)  // the value is never echoed
      return Invalid("job '" + j.id + "': a secret_env entry is not NAME=value with a non-empty NAME");
  }
  if (const std::string problem = JobLimitsProblem(spec); !problem.empty())
    return Invalid("job '" + j.id + "': " + problem);
  if (j.priority < -kMaxPriority || j.priority > kMaxPriority) {
    return Invalid("job '" + j.id + "': priority must be within -" + std::to_string(kMaxPriority) + ".." +
                   std::to_string(kMaxPriority));
  }
  return std::nullopt;
}

std::optional<Message> BrokerCore::LinkParents(std::vector<Job>& batch) const {
  std::unordered_set<std::string> ids;
  for (const auto& j : batch) ids.insert(j.id);
  auto known = [&](const std::string& p) {
    if (ids.count(p) || jobs_.count(p)) return true;
    if (!Retaining()) return false;
    const Result<std::optional<Job>> ended = journal_->FindJob(p);  // ended, and left memory
    return ended.ok() && ended->has_value();
  };
  std::vector<std::string> unknown;
  for (auto& j : batch) {
    bool changed = false;
    for (auto& p : j.parents) {
      // The original Titan prefixed every id with "DAG-": "DAG-x" names job x unless a job is
      // literally called "DAG-x".
      if (!known(p) && p.rfind("DAG-", 0) == 0 && known(p.substr(4))) {
        p = p.substr(4);
        changed = true;
      }
      if (!known(p)) unknown.push_back(j.id + " -> " + p);
    }
    if (changed) j.spec.parents = j.parents;
  }
  if (!unknown.empty())
    return Invalid("unknown parent ids (child -> parent): " + Join(unknown) + "; nothing was submitted");
  if (auto cycle = CycleMembers(batch); !cycle.empty()) {
    return Invalid("the jobs form a cycle through: " + Join(cycle) + "; nothing was submitted");
  }
  return std::nullopt;
}

Message BrokerCore::Submit(const wire::JobSubmitMsg& req, Instant now) {
  if (req.each.value_or(false)) return SubmitEach(req, now);
  if (req.token) {  // before any check: the first answer stands, whatever happened to the jobs since
    if (auto replay = Replay(*req.token, &req.jobs)) return *replay;
  }
  std::unordered_map<std::string, std::string> files;  // name -> content hash
  if (auto refused = HashFiles(req.files, &files)) return *refused;
  if (req.jobs.empty()) return Invalid("the submission has no jobs; add at least one job");
  std::vector<Job> batch;
  std::unordered_set<std::string> ids;
  for (const wire::JobSpec& spec : req.jobs) {
    Job j;
    if (auto refused = ParseJob(spec, files, &j)) return *refused;
    if (!ids.insert(j.id).second) return Invalid("job id '" + j.id + "' appears twice in this submission");
    batch.push_back(std::move(j));
  }
  const std::string dag = req.dag.value_or("");
  const std::string dag_id = NewDagId(dag.empty() ? batch.front().id : dag);
  for (auto& j : batch) j.dag = dag_id;
  if (auto refused = LinkParents(batch)) return *refused;
  if (auto refused = InsertGates(batch)) return *refused;
  for (const auto& j : batch) {
    if (j.gate && !ids.insert(j.id).second)
      return Invalid("gate id '" + j.id + "' is also a job id in this submission");
  }
  return Accept(std::move(batch), req, files, dag_id, now);
}

Status BrokerCore::RetireRun(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return Status::Ok();
  Job& old = it->second;
  if (old.journal_owed != Job::Owed::kNothing) {  // CommitTurn finds owed jobs by id: write it now
    Status s = old.journal_owed == Job::Owed::kInsert ? journal_->InsertJob(old) : journal_->UpdateJob(old);
    if (!s.ok()) return s;
    old.journal_owed = Job::Owed::kNothing;
  }
  history_[id].emplace(old.run, std::move(old));
  jobs_.erase(it);
  return Status::Ok();
}

Message BrokerCore::Accept(std::vector<Job> batch, const wire::JobSubmitMsg& req,
                           const std::unordered_map<std::string, std::string>& files,
                           const std::string& dag_id, Instant now) {
  auto unavailable = [this](const Status& s) {
    JournalFailed(s);  // a full disk: the whole turn is rolled back, this answer with it
    return wire::MakeError(ErrorCode::kUnavailable, "journal unavailable (" + s.message() + "); retry later");
  };
  if (Status s = journal_->BeginIfNeeded(); !s.ok()) return unavailable(s);
  wire::JobAcceptedMsg accepted{.dag = dag_id, .submitted_ms = now.wall_ms};  // ids: jobs, then gates
  for (const auto& j : batch) accepted.ids.push_back(j.id);
  if (Status s = JournalFiles(req.files, files); !s.ok()) return unavailable(s);
  const std::string name = req.dag.value_or("");
  Dag record{dag_id, name.empty() ? dag_id : name, req.agent_run_id.value_or(""), {}, now.wall_ms, {}};
  record.token = req.token.value_or("");
  NumberRuns(batch, record);
  if (Status s = journal_->InsertDag(record); !s.ok()) return unavailable(s);
  ParentsFirst(batch);  // journaled in this order: parents before children
  for (const auto& j : batch) {
    if (Status s = RetireRun(j.id); !s.ok()) return unavailable(s);
  }
  StageFiles(req.files, files, now);
  record.live = static_cast<int64_t>(batch.size());  // before PlaceNew: a job skipped at once counts down
  dag_order_.push_back(dag_id);
  if (!record.token.empty()) tokens_[record.token] = dag_id;
  dags_.emplace(dag_id, std::move(record));
  Admit(std::move(batch), now);
  for (const std::string& id : accepted.ids) PlaceNew(jobs_.at(id), now);
  return std::move(accepted).ToMessage();
}

void BrokerCore::NumberRuns(std::vector<Job>& batch, Dag& record) const {
  for (auto& j : batch) {
    Job scratch;
    if (const Job* earlier = LookUp(j.id, 0, &scratch); earlier != nullptr && earlier->id == j.id) {
      j.run = earlier->run + 1;  // final (ParseJob checked): reused
      j.first_attempt = earlier->attempt + 1;
    }
    record.job_ids.push_back(j.id);
    record.job_runs.push_back(j.run);
  }
}

void BrokerCore::Admit(std::vector<Job> batch, Instant now) {
  for (auto& j : batch) {
    j.seq = next_seq_++;
    j.attempt = j.first_attempt - 1;
    j.submitted_ms = now.wall_ms;
    j.state = JobState::kPending;
    j.journal_owed = Job::Owed::kInsert;  // written by CommitTurn, with the state the turn leaves it in
    owed_.push_back(j.id);
    ++counts_[static_cast<int>(JobState::kPending)];
    ++in_memory_;
    CountSubmitted(j);
    order_.emplace_back(j.id, j.run);
    const std::string id = j.id;
    jobs_.emplace(id, std::move(j));
  }
}

void BrokerCore::PlaceNew(Job& j, Instant now) {
  std::string failed_parent;  // "<id> ended <STATE>"
  for (const auto& p : j.parents) {
    Job scratch;
    Job* parent = Resolve(p);  // LinkParents checked each exists: in memory, or ended and in the journal
    const Job* linked = parent != nullptr ? parent : LookUp(p, 0, &scratch);
    if (parent != nullptr) parent->children.emplace_back(j.id, j.run);
    j.parent_runs.push_back(linked->run);
    if (linked->state != JobState::kCompleted && !DoneForDag(*linked)) ++j.unmet_parents;
    if (IsFinal(linked->state) && linked->state != JobState::kCompleted)
      failed_parent = linked->id + " ended " + StateName(linked->state);
  }
  if (!failed_parent.empty()) {
    Finish(j, JobState::kSkipped, "parent " + failed_parent, now);
  } else if (j.unmet_parents > 0) {
    j.reason = "waiting for parents";
    (void)Transition(j, JobState::kBlocked, now);
  } else {
    MakeReady(j, now, true);
  }
}

}  // namespace titan::broker
