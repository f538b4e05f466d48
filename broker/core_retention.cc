// BrokerCore: retention of finished jobs. The unit is a submission (a DAG record): once every job of it
// is final it joins a queue in the order it finished, and leaves memory retain_finished_ms later, or
// sooner, oldest first, while the queue holds more than retain_finished_count jobs. A job that left
// memory is still answered from the journal (LookUp). Journal retention deletes whole submissions
// that ended journal_retention_ms ago, with their logs, a bounded batch per timer step. The per-state
// counters STATS reports are kept here on every transition, so STATS never walks the jobs.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {

namespace {

constexpr int64_t kEvictPerTurn = 4096;       // runs evicted per turn at most; the rest on the next, at once
constexpr int64_t kPruneBatch = 128;          // journal rows examined per step (whole submissions)
constexpr int64_t kPruneAgainMs = 2;          // the next step while there is more to delete
constexpr int64_t kPruneEveryMs = 60 * 1000;  // the next pass once everything old enough is gone

}  // namespace

void BrokerCore::Count(const Job& job, JobState from, JobState to, Instant now) {
  --counts_[static_cast<int>(from)];
  ++counts_[static_cast<int>(to)];
  if (!IsFinal(to)) return;
  auto dag = dags_.find(job.dag);
  if (dag == dags_.end() || --dag->second.live != 0) return;
  QueueFinished(dag->first, now.mono_ms);
}

void BrokerCore::QueueFinished(const std::string& id, int64_t at) {
  if (!Retaining()) return;  // nothing would ever take it off the queue
  const auto jobs = static_cast<int64_t>(dags_.at(id).job_ids.size());
  finished_.push_back(Finished{id, at, jobs});
  finished_jobs_ += jobs;
}

void BrokerCore::Retain(Instant now) {
  retain_pending_ = false;
  int64_t budget = kEvictPerTurn;
  while (!finished_.empty()) {
    const Finished& f = finished_.front();
    const bool old = config_.retain_finished_ms > 0 && now.mono_ms - f.at >= config_.retain_finished_ms;
    const bool over = config_.retain_finished_count > 0 && finished_jobs_ > config_.retain_finished_count;
    if (!old && !over) break;
    if (budget <= 0) {
      retain_pending_ = true;
      break;
    }
    budget -= f.jobs;
    EvictDag(f.dag);
    finished_jobs_ -= f.jobs;
    finished_.pop_front();
  }
  CompactOrders();
}

void BrokerCore::EvictDag(const std::string& id) {
  auto dag = dags_.find(id);
  if (dag == dags_.end()) return;
  const Dag& d = dag->second;
  for (size_t i = 0; i < d.job_ids.size(); ++i) {
    Job* job = FindRun(d.job_ids[i], i < d.job_runs.size() ? d.job_runs[i] : 1);
    if (job == nullptr) continue;
    if (job->journal_owed != Job::Owed::kNothing) {  // CommitTurn would look for it by id: write it now
      Status s = journal_->BeginIfNeeded();
      if (s.ok())
        s = job->journal_owed == Job::Owed::kInsert ? journal_->InsertJob(*job) : journal_->UpdateJob(*job);
      if (!s.ok()) {
        spdlog::error("broker: job {} stays in memory: cannot journal it before it leaves ({})", job->id,
                      s.message());
        JournalFailed(s);  // a full disk: the turn is rolled back
        continue;
      }
      job->journal_owed = Job::Owed::kNothing;
    }
    auto latest = jobs_.find(job->id);
    if (latest != jobs_.end() && &latest->second == job) {
      jobs_.erase(latest);
    } else if (auto runs = history_.find(job->id); runs != history_.end()) {
      runs->second.erase(job->run);
      if (runs->second.empty()) history_.erase(runs);
    }
    --in_memory_;
    ++evicted_;
    ++stale_order_;
  }
  if (!dag->second.token.empty()) tokens_.erase(dag->second.token);  // the journal's row keeps it
  dags_.erase(dag);
  ++stale_dags_;
}

void BrokerCore::CompactOrders() {
  constexpr size_t kMinStale = 1024;
  if (stale_order_ > kMinStale && stale_order_ * 2 > order_.size()) {
    std::erase_if(order_,
                  [this](const auto& entry) { return FindRun(entry.first, entry.second) == nullptr; });
    stale_order_ = 0;
  }
  if (stale_dags_ > kMinStale && stale_dags_ * 2 > dag_order_.size()) {
    std::erase_if(dag_order_, [this](const std::string& id) { return dags_.count(id) == 0; });
    stale_dags_ = 0;
  }
}

void BrokerCore::QueueRecoveredDags(Instant now) {
  std::vector<std::pair<int64_t, std::string>> done;  // (when its last job ended, wall; DAG id)
  for (auto& [id, dag] : dags_) {
    int64_t finished_ms = 0;
    dag.live = 0;
    for (size_t i = 0; i < dag.job_ids.size(); ++i) {
      const Job* job = FindRun(dag.job_ids[i], i < dag.job_runs.size() ? dag.job_runs[i] : 1);
      if (job != nullptr && !IsFinal(job->state)) ++dag.live;
      if (job != nullptr) finished_ms = std::max(finished_ms, job->finished_ms);
    }
    if (dag.live == 0) done.emplace_back(finished_ms, id);
  }
  std::sort(done.begin(), done.end());
  for (const auto& [finished_ms, id] : done) {
    const int64_t age = std::max<int64_t>(0, AddMs(now.wall_ms, -finished_ms));
    QueueFinished(id, AddMs(now.mono_ms, -age));
  }
}

int64_t BrokerCore::RecountForTest() const {
  int64_t n = static_cast<int64_t>(jobs_.size());
  for (const auto& [id, runs] : history_) n += static_cast<int64_t>(runs.size());
  return n;
}

const Job* BrokerCore::LookUp(const std::string& id, int64_t run, Job* scratch) const {
  const Job* latest = Resolve(id);
  if (latest != nullptr && (run == 0 || run == latest->run)) return latest;
  if (latest != nullptr) {
    if (const Job* job = FindRun(latest->id, run)) return job;
  }
  if (!Retaining()) return nullptr;
  const std::string name = latest != nullptr ? latest->id : id;
  for (const std::string& candidate : {name, name.rfind("DAG-", 0) == 0 ? name.substr(4) : std::string()}) {
    if (candidate.empty()) continue;
    Result<std::optional<Job>> found = journal_->FindJob(candidate, run);
    if (!found.ok()) {
      spdlog::error("broker: cannot read job {} from the journal: {}", candidate, found.message());
      return nullptr;
    }
    if (*found) {
      *scratch = std::move(**found);
      return scratch;
    }
    if (latest != nullptr) break;  // the id is known: only its run was asked for
  }
  return nullptr;
}

const Dag* BrokerCore::LookUpDag(const std::string& id, Dag* scratch) const {
  if (auto it = dags_.find(id); it != dags_.end()) return &it->second;
  if (!Retaining()) return nullptr;
  Result<std::optional<Dag>> found = journal_->FindDag(id);
  if (!found.ok()) {
    spdlog::error("broker: cannot read DAG {} from the journal: {}", id, found.message());
    return nullptr;
  }
  if (!*found) return nullptr;
  *scratch = std::move(**found);
  return scratch;
}

void BrokerCore::PruneJournal(Instant now) {
  std::vector<Journal::JobRow> rows;
  Status s = journal_->BeginIfNeeded();
  if (s.ok()) s = journal_->ScanJobs(prune_after_, kPruneBatch, &rows);
  // The last submission may go on past the batch: read on to its end, so each is deleted whole.
  while (s.ok() && static_cast<int64_t>(rows.size()) >= kPruneBatch && rows.back().dag == rows.front().dag) {
    const size_t had = rows.size();
    s = journal_->ScanJobs(rows.back().seq, kPruneBatch, &rows);
    if (rows.size() == had) break;
  }
  const bool more = static_cast<int64_t>(rows.size()) >= kPruneBatch;
  if (more) {  // the last submission may be cut short: it is read whole on the next step
    const std::string last = rows.back().dag;
    while (rows.size() > 1 && rows.back().dag == last && rows.front().dag != last) rows.pop_back();
  }
  const int64_t cutoff = now.wall_ms - config_.journal_retention_ms;
  int64_t again_ms = more ? kPruneAgainMs : kPruneEveryMs;
  for (size_t begin = 0; s.ok() && begin < rows.size();) {
    size_t end = begin;
    while (end < rows.size() && rows[end].dag == rows[begin].dag) ++end;
    // Submissions go in the order they were submitted: one that ended too recently (or was submitted
    // too recently: every later one then is) stops the pass until it may be old enough.
    const int64_t young_ms = YoungestEnd(rows, begin, end);
    if (young_ms >= cutoff) {
      again_ms = std::clamp<int64_t>(young_ms - cutoff + 1, kPruneAgainMs, kPruneEveryMs);
      prune_after_ = 0;  // the next pass starts over from the oldest row left
      break;
    }
    s = PruneSubmission(rows, begin, end);
    prune_after_ = rows[end - 1].seq;
    begin = end;
  }
  if (!s.ok()) {
    spdlog::error(
        "broker: cannot apply --journal-retention-days (deleting old jobs from the journal): {}; "
        "trying again in a minute",
        s.message());
    JournalFailed(s);  // a full disk: the turn is rolled back
    prune_after_ = 0;
    again_ms = kPruneEveryMs;
  }
  if (!more && again_ms == kPruneEveryMs) prune_after_ = 0;
  timers_.push(Timer{now.mono_ms + again_ms, TimerKind::kJournalPrune, {}});
}

int64_t BrokerCore::YoungestEnd(const std::vector<Journal::JobRow>& rows, size_t begin, size_t end) {
  int64_t young = rows[begin].submitted_ms;
  for (size_t i = begin; i < end; ++i) {
    const std::optional<JobState> state = StateFromName(rows[i].state);
    if (state && IsFinal(*state)) young = std::max(young, rows[i].finished_ms);
  }
  return young;
}

Status BrokerCore::PruneSubmission(const std::vector<Journal::JobRow>& rows, size_t begin, size_t end) {
  // Whole or not at all: a submission with a job not final, or one still in memory, stays.
  for (size_t i = begin; i < end; ++i) {
    const std::optional<JobState> state = StateFromName(rows[i].state);
    if (!state || !IsFinal(*state) || FindRun(rows[i].id, rows[i].run) != nullptr) return Status::Ok();
  }
  // Its rows have consecutive seqs (one submission, one turn): one range delete.
  if (Status s = journal_->DeleteJobs(rows[begin].seq, rows[end - 1].seq); !s.ok()) return s;
  for (size_t i = begin; i < end; ++i) {
    logs_->Remove(LogName(rows[i].id, rows[i].run));
    --counts_[static_cast<int>(*StateFromName(rows[i].state))];
  }
  return journal_->DeleteDag(rows[begin].dag);
}

}  // namespace titan::broker
