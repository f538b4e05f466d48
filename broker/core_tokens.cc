// BrokerCore: idempotent submissions. A client retrying a JOB_SUBMIT (or DAG_RERUN) whose answer it never
// got sends it again with the same token; the broker answers what it answered the first time and submits
// nothing. The token is kept with the DAG the submission made (Dag::token, a column of its journal row,
// written in the transaction that journals the jobs), so it survives a restart and a failover, and it is
// forgotten when that row leaves the journal (journal retention, JOB_DELETE).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker_core.h"

namespace titan::broker {

namespace {

constexpr size_t kMaxTokenBytes = 128;

}  // namespace

Result<const Dag*> BrokerCore::DagOfToken(const std::string& token, Dag* scratch) const {
  if (auto it = tokens_.find(token); it != tokens_.end()) {
    if (auto dag = dags_.find(it->second); dag != dags_.end()) return &dag->second;
  }
  // Only retention takes a DAG out of memory while its row stays in the journal.
  if (!Retaining()) return static_cast<const Dag*>(nullptr);
  Result<std::optional<Dag>> found = journal_->FindDagByToken(token);
  if (!found.ok()) return found.status();
  if (!*found) return static_cast<const Dag*>(nullptr);
  *scratch = std::move(**found);
  return static_cast<const Dag*>(scratch);
}

std::optional<Message> BrokerCore::Replay(const std::string& token, const std::vector<wire::JobSpec>* jobs) {
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return Invalid("the submission's token is empty or longer than " + std::to_string(kMaxTokenBytes) +
                   " bytes; use a fresh random one per submission (a UUID), or none");
  }
  Dag scratch;
  const Result<const Dag*> found = DagOfToken(token, &scratch);
  if (!found.ok()) {
    spdlog::error("broker: cannot look up submission token {} in the journal: {}", token, found.message());
    return wire::MakeError(
        ErrorCode::kUnavailable,
        "cannot read the journal to find the submission's token (" + found.message() + "); retry later");
  }
  const Dag* dag = found.value();
  if (dag == nullptr) return std::nullopt;
  for (size_t i = 0; jobs != nullptr && i < jobs->size(); ++i) {
    const std::string& id = (*jobs)[i].id;
    if (std::find(dag->job_ids.begin(), dag->job_ids.end(), id) == dag->job_ids.end()) {
      return Invalid("the submission's token was used already, by DAG " + dag->id + ", which has no job '" +
                     id + "'; a token names one submission: make a new one for each");
    }
  }
  ++metrics_.submissions_replayed;
  spdlog::info("broker: submission token {} was accepted before (DAG {}): answered again, nothing submitted",
               token, dag->id);
  return wire::JobAcceptedMsg{.ids = dag->job_ids, .dag = dag->id, .submitted_ms = dag->submitted_ms}.ToMessage();
}

}  // namespace titan::broker
