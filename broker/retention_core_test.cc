// Retention of finished jobs (core_retention.cc): finished submissions leave memory by age or count and
// are still answered from the journal; journal retention deletes them with their logs; the counters
// STATS reports stay equal to a full recount through every transition, eviction and restart.
#include <random>

#include "broker/core_test_fixture.h"

namespace titan::broker {
namespace {

class RetentionTest : public BrokerCoreTest {
 protected:
  void Configure(int64_t age_ms, int64_t count, int64_t journal_ms = 0) {
    config_.retain_finished_ms = age_ms;
    config_.retain_finished_count = count;
    config_.journal_retention_ms = journal_ms;
    Stop();
    Open();
  }

  // Submits `id` (one job) and lets worker w1 run it to `exit_code`.
  void RunJob(const std::string& id, int64_t exit_code = 0, std::vector<std::string> parents = {}) {
    Submit({{.id = id, .parents = std::move(parents)}});
    Done("w1", id, exit_code, core_->FindJob(id) ? core_->FindJob(id)->attempt : 1);
  }

  wire::JobInfoMsg Get(const std::string& id, std::optional<int64_t> run = std::nullopt) {
    wire::JobGetMsg get{.id = id};
    get.run = run;
    Result<wire::JobInfoMsg> info = wire::JobInfoMsg::From(Client(std::move(get).ToMessage()));
    EXPECT_TRUE(info.ok()) << info.message();
    return info.ok() ? *info : wire::JobInfoMsg{};
  }

  // "id:STATE" of JOB_LIST, newest first.
  std::string List(std::optional<std::string> state = std::nullopt, int64_t limit = 100) {
    wire::JobListMsg list{.limit = limit};
    list.state = std::move(state);
    Result<wire::JobListReplyMsg> reply = wire::JobListReplyMsg::From(Client(std::move(list).ToMessage()));
    if (!reply.ok()) return reply.message();
    std::string out;
    for (const auto& j : reply->jobs) out += (out.empty() ? "" : " ") + j.id + ":" + j.state;
    return out + (reply->truncated ? " ..." : "");
  }

  wire::StatsMsg Stats() {
    Result<wire::StatsMsg> stats = wire::StatsMsg::From(Client(wire::StatsGetMsg{}.ToMessage()));
    EXPECT_TRUE(stats.ok()) << stats.message();
    return stats.ok() ? *stats : wire::StatsMsg{};
  }

  // The jobs rows in each state, counted by the database on the committed journal.
  std::map<std::string, int64_t> JournalCounts() {
    std::unique_ptr<sql::Db> db = CommittedJournal();
    std::unique_ptr<sql::Statement> st;
    EXPECT_TRUE(db->Prepare("SELECT state, count(*) FROM jobs GROUP BY state", &st).ok());
    std::map<std::string, int64_t> counts;
    while (st->Step()) counts[std::string(st->ColumnBlob(0))] = st->ColumnInt(1);
    return counts;
  }

  // The core's counters, non-zero ones, as JournalCounts renders them.
  std::map<std::string, int64_t> CoreCounts() {
    std::map<std::string, int64_t> counts;
    for (int s = 0; s < kStateCount; ++s) {
      if (core_->state_counts()[s] != 0)
        counts[StateName(static_cast<JobState>(s))] = core_->state_counts()[s];
    }
    return counts;
  }
};

TEST_F(RetentionTest, AFinishedJobLeavesMemoryAfterTheAgeAndIsAnsweredFromTheJournal) {
  Configure(/*age_ms=*/60'000, /*count=*/0);
  Join("w1", 4);
  RunJob("a");
  core_->OnWorker("id-w1",
                  wire::JobLogMsg{.id = "a", .attempt = 1, .seq = 0, .stream = "stdout", .blobs = {"hello\n"}}
                      .ToMessage(),
                  now_);
  Turn();
  EXPECT_EQ("COMPLETED", State("a"));
  Advance(59'000, {"w1"});
  EXPECT_EQ("COMPLETED", State("a"));  // not yet
  Advance(1'000, {"w1"});
  EXPECT_EQ("UNKNOWN", State("a"));  // not in memory
  EXPECT_EQ(0, core_->jobs_in_memory());

  const wire::JobInfoMsg info = Get("a");
  ASSERT_TRUE(info.found);
  EXPECT_EQ("COMPLETED", info.job->state);
  EXPECT_EQ("w1", info.job->worker.value_or(""));
  EXPECT_EQ(0, info.job->exit_code.value_or(-1));
  EXPECT_EQ(1, info.runs.value_or(0));
  EXPECT_TRUE(Get("DAG-a").found);
  EXPECT_FALSE(Get("b").found);
  EXPECT_EQ("a:COMPLETED", List());
  EXPECT_EQ("a:COMPLETED", List("COMPLETED"));
  EXPECT_EQ("", List("RUNNING"));
  EXPECT_EQ("COMPLETED", DagState("a"));

  const Result<wire::JobLogDataMsg> log = wire::JobLogDataMsg::From(
      Client(wire::JobLogsMsg{.id = "a", .offset = 0, .max_bytes = 100}.ToMessage()));
  ASSERT_TRUE(log.ok()) << log.message();
  EXPECT_EQ("hello\n", log->blobs.at(0));
  EXPECT_TRUE(log->complete);

  const Result<wire::JobInfoMsg> waited =
      wire::JobInfoMsg::From(Client(wire::JobWaitMsg{.id = "a", .timeout_ms = 1000}.ToMessage()));
  ASSERT_TRUE(waited.ok());
  EXPECT_EQ("COMPLETED", waited->job->state);
  EXPECT_EQ("JOB_INFO", ErrorOf(Client(wire::JobStopMsg{.id = "a"}.ToMessage())));

  const wire::StatsMsg stats = Stats();
  EXPECT_EQ(1, stats.completed);
  EXPECT_EQ(0, stats.jobs_in_memory.value_or(-1));
  EXPECT_EQ(1, stats.jobs_evicted.value_or(-1));
}

TEST_F(RetentionTest, OverTheCountTheOldestFinishedLeaveFirst) {
  Configure(/*age_ms=*/0, /*count=*/2);
  Join("w1", 4);
  RunJob("a");
  now_ += 10;
  RunJob("b");
  now_ += 10;
  EXPECT_EQ("COMPLETED COMPLETED", State("a") + " " + State("b"));
  RunJob("c");
  EXPECT_EQ("UNKNOWN COMPLETED COMPLETED", State("a") + " " + State("b") + " " + State("c"));
  EXPECT_EQ("c:COMPLETED b:COMPLETED a:COMPLETED", List());
  EXPECT_EQ("c:COMPLETED b:COMPLETED ...", List(std::nullopt, 2));
  Submit({{.id = "d"}});  // live: counts for nothing, leaves nothing
  EXPECT_EQ("UNKNOWN COMPLETED COMPLETED", State("a") + " " + State("b") + " " + State("c"));
  EXPECT_EQ(3, Stats().jobs_in_memory.value_or(-1));
}

TEST_F(RetentionTest, ADagStaysInMemoryWhileAnyOfItsJobsIsLive) {
  Configure(/*age_ms=*/1000, /*count=*/0);
  Join("w1", 4);
  Submit({{.id = "a"}, {.id = "b", .parents = {"a"}}}, "etl");
  Done("w1", "a", 0);
  Advance(5000, {"w1"});
  EXPECT_EQ("COMPLETED RUNNING", State("a") + " " + State("b"));
  Done("w1", "b", 0);
  Advance(1000, {"w1"});
  EXPECT_EQ("UNKNOWN UNKNOWN", State("a") + " " + State("b"));
  EXPECT_EQ("COMPLETED", DagState("etl"));
  const Result<wire::DagInfoMsg> dag =
      wire::DagInfoMsg::From(Client(wire::DagGetMsg{.id = "etl"}.ToMessage()));
  ASSERT_TRUE(dag.ok());
  EXPECT_EQ(2, dag->dag->jobs);
  EXPECT_EQ(2u, dag->jobs.size());
  // The DAG's id stays taken: a new DAG of that name is etl#2.
  EXPECT_EQ("etl#2", std::string(Submit({{.id = "c"}}, "etl").Bytes("dag")));
}

TEST_F(RetentionTest, AChildOfAParentThatLeftMemoryLinksThroughTheJournal) {
  Configure(/*age_ms=*/1000, /*count=*/0);
  Join("w1", 4);
  RunJob("ok");
  RunJob("bad", 1);
  Advance(1000, {"w1"});
  ASSERT_EQ("UNKNOWN UNKNOWN", State("ok") + " " + State("bad"));
  Submit({{.id = "child", .parents = {"ok"}}});
  EXPECT_EQ("RUNNING", State("child"));
  Submit({{.id = "skipped", .parents = {"DAG-bad"}}});
  EXPECT_EQ("SKIPPED", State("skipped"));
  EXPECT_EQ("parent bad ended FAILED", core_->FindJob("skipped")->reason);
  EXPECT_EQ("INVALID: unknown parent ids (child -> parent): x -> nope; nothing was submitted",
            ErrorOf(Submit({{.id = "x", .parents = {"nope"}}})));
}

TEST_F(RetentionTest, AReusedIdNumbersItsRunsPastThoseThatLeftMemory) {
  Configure(/*age_ms=*/1000, /*count=*/0);
  Join("w1", 4);
  RunJob("a", 3);
  Advance(1000, {"w1"});
  ASSERT_EQ("UNKNOWN", State("a"));
  RunJob("a");
  EXPECT_EQ(2, core_->FindJob("a")->run);
  EXPECT_EQ(2, core_->FindJob("a")->attempt);  // attempts count on across runs
  EXPECT_EQ("FAILED", Get("a", 1).job->state);
  EXPECT_EQ(2, Get("a", 1).runs.value_or(0));
  EXPECT_EQ("COMPLETED", Get("a").job->state);
  EXPECT_EQ("a:COMPLETED", List());  // the latest run only
}

TEST_F(RetentionTest, ARestartReadsBackOnlyTheNewestFinishedSubmissionsAndEveryLiveOne) {
  Configure(/*age_ms=*/0, /*count=*/3);
  Join("w1", 8);
  Submit({{.id = "slow"}});  // runs through the restart
  Submit({{.id = "waiting", .requirement = "GPU"}});
  for (int i = 0; i < 6; ++i) RunJob("j" + std::to_string(i));
  Stop();
  Open();
  EXPECT_EQ("RUNNING QUEUED", State("slow") + " " + State("waiting"));
  EXPECT_EQ("UNKNOWN UNKNOWN COMPLETED COMPLETED",
            State("j0") + " " + State("j2") + " " + State("j3") + " " + State("j5"));
  EXPECT_EQ(5, core_->jobs_in_memory());
  EXPECT_EQ(core_->RecountForTest(), core_->jobs_in_memory());
  EXPECT_EQ("COMPLETED", Get("j0").job->state);
  EXPECT_EQ(JournalCounts(), CoreCounts());
  EXPECT_EQ(6, Stats().completed);
}

TEST_F(RetentionTest, JournalRetentionDeletesOldJobsWithTheirLogsAndDagsInBatches) {
  constexpr int64_t kDay = 86'400'000;
  Configure(/*age_ms=*/1000, /*count=*/0, /*journal_ms=*/kDay);
  Join("w1", 2000);
  std::vector<JobArgs> batch;
  for (int i = 0; i < 700; ++i) batch.push_back({.id = "old" + std::to_string(i)});
  Submit(batch, "big");  // one submission past a batch: deleted whole
  for (int i = 0; i < 700; ++i) Done("w1", "old" + std::to_string(i), 0);
  for (int i = 0; i < 300; ++i) RunJob("one" + std::to_string(i));
  core_->OnWorker(
      "id-w1",
      wire::JobLogMsg{.id = "one0", .attempt = 1, .seq = 0, .stream = "stdout", .blobs = {"x\n"}}.ToMessage(),
      now_);
  Turn();
  ASSERT_TRUE(std::filesystem::exists(dir_.File("logs/one0.log")));
  now_ += kDay / 2;  // w1 is lost meanwhile: nothing runs
  Turn();
  Join("w1", 4);
  RunJob("young");
  now_ += kDay / 2 + 1000;
  Turn();
  for (int i = 0; i < 20; ++i) {  // a few pruning steps
    now_ += 100;
    Turn();
  }
  EXPECT_FALSE(Get("old0").found);
  EXPECT_FALSE(Get("one299").found);
  EXPECT_EQ("UNKNOWN", DagState("big"));
  EXPECT_FALSE(std::filesystem::exists(dir_.File("logs/one0.log")));
  EXPECT_TRUE(Get("young").found);
  EXPECT_EQ((std::map<std::string, int64_t>{{"COMPLETED", 1}}), JournalCounts());
  EXPECT_EQ(JournalCounts(), CoreCounts());
  EXPECT_EQ(1, Stats().completed);
}

// The counters STATS reports equal a full recount (SQLite's, of the committed journal; the core's
// walk of memory) after every step of a random run of submissions, results, stops, retries, worker
// losses, evictions and restarts.
TEST_F(RetentionTest, CountersEqualAFullRecountThroughRandomTransitionsEvictionsAndRestarts) {
  Configure(/*age_ms=*/3000, /*count=*/8);
  std::mt19937 rng(14);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  std::vector<std::string> ids;
  Join("w1", 3);
  for (int step = 0; step < 400; ++step) {
    const int op = pick(10);
    if (op < 3) {  // a submission of 1-3 jobs, maybe a reused id, maybe depending on an earlier job
      std::vector<JobArgs> jobs;
      const int n = 1 + pick(3);
      for (int k = 0; k < n; ++k) {
        JobArgs j{.id = "j" + std::to_string(pick(60)), .retries = pick(2)};
        if (k > 0 && pick(2) == 0) j.parents = {jobs.front().id};
        if (k == 0 && !ids.empty() && pick(4) == 0)
          j.parents = {ids[static_cast<size_t>(pick(static_cast<int>(ids.size())))]};
        if (std::none_of(jobs.begin(), jobs.end(), [&](const JobArgs& o) { return o.id == j.id; }))
          jobs.push_back(j);
      }
      Submit(jobs);
      for (const auto& j : jobs) ids.push_back(j.id);
    } else if (op < 7) {  // a running job ends
      const std::vector<std::string> running = core_->RunningJobIds();
      if (!running.empty()) {
        const std::string id = running[static_cast<size_t>(pick(static_cast<int>(running.size())))];
        Done("w1", id, pick(3) == 0 ? 1 : 0, core_->FindJob(id)->attempt);
      }
    } else if (op == 7 && !ids.empty()) {
      Client(
          wire::JobStopMsg{.id = ids[static_cast<size_t>(pick(static_cast<int>(ids.size())))]}.ToMessage());
    } else if (op == 8) {
      Advance(1000, {"w1"});
    } else if (pick(4) == 0) {  // a restart; the worker comes back with nothing (its runs are requeued)
      Stop();
      Open();
      Join("w1", 3);
    }
    ASSERT_EQ(JournalCounts(), CoreCounts()) << "after step " << step;
    ASSERT_EQ(core_->RecountForTest(), core_->jobs_in_memory()) << "after step " << step;
  }
  EXPECT_GT(Stats().jobs_evicted.value_or(0), 0);
}

}  // namespace
}  // namespace titan::broker
