// Reconcile as a table: what a returning worker reports (runs it still has, results not yet
// acknowledged) against what the broker believes, and the decisions that follow.
#include "broker/reconcile.h"

#include <gtest/gtest.h>

namespace titan::broker {
namespace {

using S = JobState;

BelievedRun Believed(S state, int64_t attempt, std::string worker, bool live = false) {
  return BelievedRun{state, attempt, std::move(worker), live};
}

struct Row {
  const char* what;
  std::vector<RunRef> running, finished;
  std::map<std::string, BelievedRun> believed;
  const char* want;
};

TEST(Reconcile, DecidesEachReportedRunAndEachBelievedOne) {
  const Row rows[] = {
      {"a new worker with nothing", {}, {}, {}, ""},
      {"adopt the run the broker expects there",
       {{"a", 1}},
       {},
       {{"a", Believed(S::kRunning, 1, "w1")}},
       "adopt a/1"},
      {"adopt a run whose worker is gone (a restart, or it moved)",
       {{"a", 2}},
       {},
       {{"a", Believed(S::kRunning, 2, "w0", /*live=*/false)}},
       "adopt a/2"},
      {"adopt back a run requeued while this worker was thought lost",
       {{"a", 1}},
       {},
       {{"a", Believed(S::kQueued, 1, "w1")}},
       "adopt-requeued a/1"},
      {"cancel a run requeued for another worker's loss",
       {{"a", 1}},
       {},
       {{"a", Believed(S::kQueued, 1, "w2")}},
       "cancel a/1 (it is QUEUED for another worker)"},
      {"cancel a run the broker does not know",
       {{"zz", 1}},
       {},
       {},
       "cancel zz/1 (job zz is unknown to the broker)"},
      {"cancel a stale attempt",
       {{"a", 1}},
       {},
       {{"a", Believed(S::kRunning, 2, "w2", true)}},
       "cancel a/1 (stale attempt 1: the broker expects attempt 2)"},
      {"cancel a run that ended meanwhile (stopped while the worker was away)",
       {{"a", 1}},
       {},
       {{"a", Believed(S::kCancelled, 1, "w1")}},
       "cancel a/1 (it is CANCELLED)"},
      {"cancel the same attempt running on a live other worker",
       {{"a", 3}},
       {},
       {{"a", Believed(S::kRunning, 3, "w2", true)}},
       "cancel a/3 (it runs on worker w2)"},
      // Attempts count on across runs of a reused id: run 2 of "a" starts at attempt 2, so attempt 1
      // can only be run 1's.
      {"cancel a run of an earlier run of a reused id",
       {{"a", 1}},
       {},
       {{"a", Believed(S::kRunning, 2, "w1")}},
       "cancel a/1 (stale attempt 1: the broker expects attempt 2), requeue a/2 (worker w1 came back without "
       "it)"},
      {"apply the result of the expected run",
       {},
       {{"a", 1}},
       {{"a", Believed(S::kRunning, 1, "w1")}},
       "apply a/1"},
      {"ignore a result of an earlier run of a reused id",
       {},
       {{"a", 1}},
       {{"a", Believed(S::kQueued, 2, "")}},
       "ignore a/1 (stale attempt 1: the broker expects attempt 2)"},
      {"ignore a result for a run that already ended",
       {},
       {{"a", 1}},
       {{"a", Believed(S::kCompleted, 1, "w1")}},
       "ignore a/1 (it is COMPLETED)"},
      {"ignore a result for a run requeued meanwhile",
       {},
       {{"a", 1}},
       {{"a", Believed(S::kQueued, 1, "w1")}},
       "ignore a/1 (it is QUEUED)"},
      {"ignore a result for a run on a gone worker",
       {},
       {{"a", 1}},
       {{"a", Believed(S::kRunning, 1, "w0")}},
       "ignore a/1 (it runs on worker w0)"},
      {"requeue runs the worker no longer has",
       {},
       {},
       {{"b", Believed(S::kRunning, 1, "w1")},
        {"a", Believed(S::kRunning, 4, "w1")},
        {"c", Believed(S::kRunning, 1, "w2", true)}},
       "requeue a/4 (worker w1 came back without it), requeue b/1 (worker w1 came back without it)"},
      {"a finished run is applied, not requeued; the one it lost is requeued",
       {{"kept", 1}},
       {{"done", 1}},
       {{"kept", Believed(S::kRunning, 1, "w1")},
        {"done", Believed(S::kRunning, 1, "w1")},
        {"lost", Believed(S::kRunning, 1, "w1")}},
       "adopt kept/1, apply done/1, requeue lost/1 (worker w1 came back without it)"},
      {"a requeued run adopted back may then finish",
       {{"a", 1}},
       {{"a", 1}},
       {{"a", Believed(S::kQueued, 1, "w1")}},
       "adopt-requeued a/1, apply a/1"},
      {"a run listed twice is decided once",
       {{"a", 1}, {"a", 1}},
       {},
       {{"a", Believed(S::kQueued, 1, "w1")}},
       "adopt-requeued a/1"},
  };
  for (const Row& r : rows) {
    const ReconcileInput in{"w1", r.running, r.finished, r.believed};
    EXPECT_EQ(r.want, RenderDecisions(Reconcile(in))) << r.what;
  }
}

TEST(Reconcile, ResultDecisionsPointAtTheirResult) {
  const ReconcileInput in{"w1", {}, {{"x", 1}, {"a", 1}}, {{"a", Believed(S::kRunning, 1, "w1")}}};
  const std::vector<Decision> d = Reconcile(in);
  ASSERT_EQ(2u, d.size());
  EXPECT_EQ(0u, d[0].result);
  EXPECT_EQ(1u, d[1].result);
}

TEST(Reconcile, ALiveJobDoneFollowsTheSameRule) {
  const BelievedRun here = Believed(S::kRunning, 2, "w1");
  EXPECT_EQ("", WhyStale({"a", 2}, &here, "w1"));
  EXPECT_EQ("stale attempt 1: the broker expects attempt 2", WhyStale({"a", 1}, &here, "w1"));
  EXPECT_EQ("it runs on worker w1", WhyStale({"a", 2}, &here, "w9"));
  EXPECT_EQ("job a is unknown to the broker", WhyStale({"a", 2}, nullptr, "w1"));
}

}  // namespace
}  // namespace titan::broker

namespace titan::broker {
namespace {

// A run assigned under lease epoch `epoch` (0: no epochs, an SQLite journal).
BelievedRun Under(int64_t epoch, S state, int64_t attempt, std::string worker) {
  BelievedRun b = Believed(state, attempt, std::move(worker));
  b.epoch = epoch;
  return b;
}

TEST(Reconcile, AReportFromAnOlderEpochThanTheAssignmentIsStale) {
  const Row rows[] = {
      {"a result of the epoch the journal assigned the attempt under is applied",
       {},
       {{"a", 1, 6}},
       {{"a", Under(6, S::kRunning, 1, "w1")}},
       "apply a/1"},
      {"a run assigned under epoch 5, adopted by the leader of epoch 6 after a failover, keeps epoch 5: "
       "its worker's reports (epoch 5) are not stale",
       {{"a", 1, 5}},
       {{"a", 1, 5}},
       {{"a", Under(5, S::kRunning, 1, "w0")}},
       "adopt a/1, apply a/1"},
      {"a result of an older epoch than the attempt's assignment is only acknowledged; the worker does not "
       "run the attempt the journal has, which is requeued",
       {},
       {{"a", 1, 5}},
       {{"a", Under(6, S::kRunning, 1, "w1")}},
       "ignore a/1 (stale epoch 5: attempt 1 was assigned again under lease epoch 6), requeue a/1 (worker w1 "
       "came "
       "back without it)"},
      {"a run of an older epoch is cancelled, and the attempt the journal has is requeued",
       {{"a", 1, 5}},
       {},
       {{"a", Under(6, S::kRunning, 1, "w1")}},
       "cancel a/1 (stale epoch 5: attempt 1 was assigned again under lease epoch 6), requeue a/1 (worker w1 "
       "came back without it)"},
      {"a worker that returns no epochs (an older one) is judged by attempts alone",
       {{"a", 1}},
       {},
       {{"a", Under(6, S::kRunning, 1, "w1")}},
       "adopt a/1"},
      {"no epochs in the journal (SQLite): attempts alone",
       {},
       {{"a", 1, 3}},
       {{"a", Under(0, S::kRunning, 1, "w1")}},
       "apply a/1"},
      {"a newer epoch than the journal's is not refused: only the lease holder commits it",
       {},
       {{"a", 1, 7}},
       {{"a", Under(6, S::kRunning, 1, "w1")}},
       "apply a/1"},
  };
  for (const Row& r : rows) {
    const ReconcileInput in{"w1", r.running, r.finished, r.believed};
    EXPECT_EQ(r.want, RenderDecisions(Reconcile(in))) << r.what;
  }
}

TEST(Reconcile, StaleEpochDecisionsSayWhy) {
  const ReconcileInput in{"w1",
                          {{"a", 1, 5}},
                          {{"b", 2, 5}, {"c", 1, 5}},
                          {{"a", Under(6, S::kRunning, 1, "w1")},
                           {"b", Under(6, S::kRunning, 2, "w1")},
                           {"c", Under(6, S::kRunning, 2, "w1")}}};
  std::string flags;
  for (const Decision& d : Reconcile(in)) flags += d.id + (d.stale_epoch ? "+" : "-");
  // The three reports, then the requeues of the attempts the journal has there: c is a stale attempt, not a
  // stale epoch.
  EXPECT_EQ("a+b+c-a-b-c-", flags);
  const BelievedRun b = Under(6, S::kRunning, 2, "w1");
  EXPECT_TRUE(OlderEpoch({"b", 2, 5}, &b));
  EXPECT_FALSE(OlderEpoch({"b", 2, 6}, &b));
  EXPECT_FALSE(OlderEpoch({"b", 2, 0}, &b));
  EXPECT_FALSE(OlderEpoch({"b", 1, 5}, &b));
}

TEST(Reconcile, ARunTheSameWorkerProcessLacksIsRequeuedAsNoLossOfItsWorker) {
  const std::map<std::string, BelievedRun> believed = {{"a", Believed(S::kRunning, 2, "w1")}};
  ReconcileInput in{"w1", {}, {}, believed};  // a new process (WORKER_READY.session 1): the old one died
  std::vector<Decision> d = Reconcile(in);
  ASSERT_EQ(1u, d.size());
  EXPECT_EQ("requeue a/2 (worker w1 came back without it)", RenderDecisions(d));
  EXPECT_TRUE(d[0].lost);

  in.same_life = true;  // it registered before (session > 1): the assignment was lost, or it fenced the run
  d = Reconcile(in);
  ASSERT_EQ(1u, d.size());
  EXPECT_EQ("requeue a/2 (worker w1 came back without it (the same process: not counted as a loss))",
            RenderDecisions(d));
  EXPECT_FALSE(d[0].lost);
}

}  // namespace
}  // namespace titan::broker
