// Reconcile: a returning worker's runs and results against the broker's beliefs (see reconcile.h).
#include "broker/reconcile.h"

#include <set>

namespace titan::broker {
namespace {

// Why `ref` is not the run the broker has for its id; "" when it is (same attempt, RUNNING or QUEUED).
std::string NotTheRun(const RunRef& ref, const BelievedRun* b) {
  if (b == nullptr) return "job " + ref.id + " is unknown to the broker";
  if (b->attempt != ref.attempt) {
    return "stale attempt " + std::to_string(ref.attempt) + ": the broker expects attempt " +
           std::to_string(b->attempt);
  }
  if (OlderEpoch(ref, b)) {
    return "stale epoch " + std::to_string(ref.epoch) + ": attempt " + std::to_string(ref.attempt) +
           " was assigned again under lease epoch " + std::to_string(b->epoch);
  }
  if (b->state != JobState::kRunning && b->state != JobState::kQueued)
    return std::string("it is ") + StateName(b->state);
  return "";
}

// Why the run (the broker's, per NotTheRun) is not this worker's to keep: "" when it is RUNNING here or
// on a worker that is gone, or QUEUED after this worker was thought lost.
std::string NotHere(const BelievedRun& b, const std::string& worker) {
  if (b.state == JobState::kRunning)
    return b.worker == worker || !b.worker_live ? "" : "it runs on worker " + b.worker;
  return b.worker == worker ? "" : "it is QUEUED for another worker";
}

BelievedRun* Find(std::map<std::string, BelievedRun>& runs, const std::string& id) {
  auto it = runs.find(id);
  return it == runs.end() ? nullptr : &it->second;
}

void Running(const ReconcileInput& in, std::map<std::string, BelievedRun>& now, std::set<std::string>& kept,
             std::vector<Decision>& out) {
  std::set<std::string> seen;
  for (const RunRef& ref : in.running) {
    if (!seen.insert(ref.id).second) continue;  // listed twice: decided once
    BelievedRun* b = Find(now, ref.id);
    std::string why = NotTheRun(ref, b);
    if (why.empty()) why = NotHere(*b, in.worker);
    if (!why.empty()) {
      out.push_back(Decision{Decision::kCancel, ref.id, ref.attempt, 0, std::move(why), OlderEpoch(ref, b)});
      continue;
    }
    const bool requeued = b->state == JobState::kQueued;
    out.push_back(Decision{requeued ? Decision::kAdoptRequeued : Decision::kAdopt, ref.id, ref.attempt});
    b->state = JobState::kRunning;  // as the core leaves it, for the results and requeues below
    b->worker = in.worker;
    kept.insert(ref.id);
  }
}

void Results(const ReconcileInput& in, std::map<std::string, BelievedRun>& now, std::vector<Decision>& out) {
  for (size_t i = 0; i < in.finished.size(); ++i) {
    const RunRef& ref = in.finished[i];
    BelievedRun* b = Find(now, ref.id);
    std::string why = WhyStale(ref, b, in.worker);
    if (!why.empty()) {
      out.push_back(
          Decision{Decision::kIgnoreResult, ref.id, ref.attempt, i, std::move(why), OlderEpoch(ref, b)});
      continue;
    }
    out.push_back(Decision{Decision::kApplyResult, ref.id, ref.attempt, i});
    b->state = JobState::kCompleted;  // ended one way or another: not requeued below
  }
}

}  // namespace

bool OlderEpoch(const RunRef& report, const BelievedRun* b) {
  return b != nullptr && report.epoch > 0 && b->epoch > 0 && report.epoch < b->epoch &&
         report.attempt == b->attempt;
}

std::string WhyStale(const RunRef& result, const BelievedRun* b, const std::string& worker) {
  std::string why = NotTheRun(result, b);
  if (why.empty() && (b->state != JobState::kRunning || b->worker != worker))
    why = b->state == JobState::kRunning ? "it runs on worker " + b->worker : "it is QUEUED";
  return why;
}

std::vector<Decision> Reconcile(const ReconcileInput& in) {
  std::map<std::string, BelievedRun> now = in.believed;  // updated as decisions are taken
  std::set<std::string> kept;
  std::vector<Decision> out;
  Running(in, now, kept, out);
  Results(in, now, out);
  for (const auto& [id, b] : now) {
    if (b.state == JobState::kRunning && b.worker == in.worker && !kept.count(id)) {
      Decision d{Decision::kRequeue, id, b.attempt, 0, "worker " + in.worker + " came back without it"};
      if (in.same_life) {
        d.why += " (the same process: not counted as a loss)";
      } else {
        d.lost = true;
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

std::string RenderDecisions(const std::vector<Decision>& decisions) {
  static constexpr const char* kNames[] = {"adopt", "adopt-requeued", "cancel", "apply", "ignore", "requeue"};
  std::string out;
  for (const Decision& d : decisions) {
    out += (out.empty() ? "" : ", ") + std::string(kNames[d.kind]) + " " + d.id + "/" +
           std::to_string(d.attempt);
    if (!d.why.empty()) out += " (" + d.why + ")";
  }
  return out;
}

}  // namespace titan::broker
