// BrokerCore: JOB_LIST, one page of jobs newest first, filtered, below a cursor (a submission seq). With
// every job in memory the page starts at a binary search over the submission order; with retention, finished
// jobs may be in the journal only and the page is read from it by seq (this turn's jobs first). Either way at
// most CoreConfig::list_scan_limit jobs are examined per request, so a page costs the same with 100,000 jobs
// as with 1,000; what the bound cut short, the reply's next_before_seq continues.
#include <algorithm>
#include <cctype>
#include <climits>
#include <unordered_set>

#include "broker/broker_core.h"

namespace titan::broker {
namespace {

constexpr int64_t kMaxPage = 10000;
// Journal rows read per request at most (each decodes a spec): the loop's bound, under list_scan_limit.
constexpr int64_t kMaxJournalRows = 20000;

bool ContainsNoCase(const std::string& text, const std::string& part) {
  return std::search(text.begin(), text.end(), part.begin(), part.end(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         }) != text.end();
}

// Whether `job` passes every filter of `req` (`state` is req.state, parsed).
bool Matches(const Job& job, const wire::JobListMsg& req, const std::optional<JobState>& state) {
  return (!state || job.state == *state) &&
         (!req.job_type || *req.job_type == (job.service ? "SERVICE" : "RUN_PAYLOAD")) &&
         (!req.dag || job.dag == *req.dag) && (!req.worker || job.worker == *req.worker) &&
         (!req.requirement || job.requirement == *req.requirement) &&
         (!req.id_contains || ContainsNoCase(job.id, *req.id_contains)) &&
         (!req.submitted_since_ms || job.submitted_ms >= *req.submitted_since_ms) &&
         (!req.submitted_until_ms || job.submitted_ms < *req.submitted_until_ms);
}

}  // namespace

int64_t BrokerCore::OrderedSeq(size_t i) const {
  // Entries whose job left memory are never listed: giving them their predecessor's seq keeps the
  // sequence sorted for the binary search.
  for (;; --i) {
    if (const Job* job = FindRun(order_[i].first, order_[i].second)) return job->seq;
    if (i == 0) return 0;
  }
}

Message BrokerCore::ListJobs(const wire::JobListMsg& req) const {
  std::optional<JobState> state;
  if (req.state) {
    state = StateFromName(*req.state);
    if (!state)
      return Invalid("unknown state '" + *req.state +
                     "'; use one of PENDING BLOCKED "
                     "SCHEDULED QUEUED RUNNING WAITING_APPROVAL COMPLETED FAILED CANCELLED DEAD SKIPPED");
  }
  const auto limit = static_cast<size_t>(std::clamp<int64_t>(req.limit, 1, kMaxPage));
  // Every job not yet final is in memory; finished ones may be in the journal only (retention).
  if (Retaining() && !(state && !IsFinal(*state))) return ListJournaledJobs(req, state, limit);
  size_t end = order_.size();  // the page starts below the first entry at or past the cursor
  if (req.before_seq) {
    size_t lo = 0;
    while (lo < end) {
      const size_t mid = lo + (end - lo) / 2;
      if (OrderedSeq(mid) < *req.before_seq)
        lo = mid + 1;
      else
        end = mid;
    }
  }
  wire::JobListReplyMsg reply;
  int64_t examined = 0;
  for (size_t i = end; i-- > 0;) {
    auto latest = jobs_.find(order_[i].first);
    // Left memory, or an earlier run of a reused id (listed by JOB_GET run).
    if (latest == jobs_.end() || latest->second.run != order_[i].second) continue;
    const Job& job = latest->second;
    if (reply.jobs.size() == limit || examined == config_.list_scan_limit) {
      reply.truncated = true;
      reply.next_before_seq = job.seq + 1;  // this job is the first the next page looks at
      break;
    }
    ++examined;
    if (Matches(job, req, state)) reply.jobs.push_back(RenderJobInfo(job));
  }
  return std::move(reply).ToMessage();
}

Message BrokerCore::ListJournaledJobs(const wire::JobListMsg& req, std::optional<JobState> state,
                                      size_t limit) const {
  // Newest first, by seq below the cursor: the jobs this turn admitted (not in the journal until it commits),
  // then the journal's rows, each shown as memory has it when it is there. An earlier run of a reused id is
  // listed by JOB_GET run only (within one request; a later page may show an earlier run whose latest left
  // memory).
  wire::JobListReplyMsg reply;
  int64_t before = req.before_seq.value_or(INT64_MAX), examined = 0;
  std::unordered_set<std::string> seen;  // ids met: their newest run came first
  auto add = [&](const Job& job) {
    if (reply.jobs.size() == limit) {
      reply.truncated = true;
      reply.next_before_seq = job.seq + 1;  // the next page starts at this job
      return false;
    }
    ++examined;
    if (!seen.insert(job.id).second) return true;
    if (auto latest = jobs_.find(job.id); latest != jobs_.end() && latest->second.run != job.run) return true;
    const Job* in_memory = FindRun(job.id, job.run);
    const Job& shown = in_memory != nullptr ? *in_memory : job;
    if (Matches(shown, req, state)) reply.jobs.push_back(RenderJobInfo(shown));
    return true;
  };
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    const Job* job = FindRun(it->first, it->second);
    if (job == nullptr) continue;
    if (job->journal_owed != Job::Owed::kInsert) break;
    if (job->seq >= before) continue;
    if (!add(*job)) return std::move(reply).ToMessage();
    before = job->seq;
  }
  const int64_t max_rows =
      std::max<int64_t>(1, std::min(kMaxJournalRows, config_.list_scan_limit) - examined);
  int64_t read = 0, last_seq = 0;
  const Status s = journal_->ListJobs(before, state ? StateName(*state) : "", max_rows, [&](Job job) {
    ++read;
    last_seq = job.seq;
    return add(job);
  });
  if (!s.ok())
    return wire::MakeError(ErrorCode::kUnavailable,
                           "cannot read the journal (" + s.message() + "); retry later");
  if (read == max_rows && !reply.truncated) {  // the bound, not the end of the journal
    reply.truncated = true;
    reply.next_before_seq = last_seq;
  }
  return std::move(reply).ToMessage();
}

}  // namespace titan::broker
