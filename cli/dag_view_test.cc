// Renderings of DAGs, runs, schedules and `submit --wait` progress.
#include "cli/dag_view.h"

#include <gtest/gtest.h>

namespace titan::cli {
namespace {

using wire::Datum;
using wire::List;
using wire::Map;
using wire::Text;

constexpr int64_t kT0 = 1'000'000;  // when the DAG was submitted

JobView Job(std::string id, std::string state, std::optional<int64_t> started = std::nullopt,
            std::optional<int64_t> finished = std::nullopt) {
  JobView j;
  j.id = std::move(id);
  j.state = std::move(state);
  j.attempt = started ? 1 : 0;
  j.submitted_ms = kT0;
  j.started_ms = started;
  j.finished_ms = finished;
  return j;
}

JobView Gate(std::string of, std::string state, std::string reason = "", std::string by = "") {
  JobView g = Job("hitl-gate-" + of, std::move(state));
  g.kind = "GATE";
  g.message = "Publish?";
  g.reason = std::move(reason);
  g.decided_by = std::move(by);
  return g;
}

DagView Dag(std::string id, std::string state, int64_t jobs, int64_t done, int64_t failed) {
  DagView d;
  d.id = d.name = std::move(id);
  d.state = std::move(state);
  d.jobs = jobs;
  d.done = done;
  d.failed = failed;
  d.submitted_ms = kT0;
  return d;
}

TEST(DagFromDatum, ReadsDagInfo) {
  const DagView d = DagFromDatum(Datum(Map{{"id", Datum(Text{"etl#2"})},
                                           {"name", Datum(Text{"etl"})},
                                           {"state", Datum(Text{"COMPLETED"})},
                                           {"agent_run_id", Datum(Text{"run-1"})},
                                           {"jobs", Datum(3)},
                                           {"done", Datum(3)},
                                           {"failed", Datum(0)},
                                           {"submitted_ms", Datum(kT0)},
                                           {"finished_ms", Datum(kT0 + 5000)}}));
  EXPECT_EQ(
      "[\n {\"id\":\"etl#2\",\"name\":\"etl\",\"state\":\"COMPLETED\",\"agent_run_id\":\"run-1\",\"jobs\":3,"
      "\"done\":3,\"failed\":0,\"submitted_ms\":1000000,\"finished_ms\":1005000}\n]\n",
      RenderDagsJson({d}));
  EXPECT_EQ("[]\n", RenderDagsJson({}));
}

TEST(DagTable, ShowsProgressRunAgeAndDuration) {
  DagView done = Dag("etl", "COMPLETED", 3, 3, 0);
  done.finished_ms = kT0 + 4000;
  done.agent_run_id = "run-1";
  EXPECT_EQ(
      "ID     STATE      DONE  FAILED  RUN    AGE  DURATION\n"
      "etl    COMPLETED  3/3   0       run-1  10s  4s\n"
      "etl#2  RUNNING    1/4   0       -      10s  10s\n",
      RenderDagTable({done, Dag("etl#2", "RUNNING", 4, 1, 0)}, kT0 + 10'000));
  EXPECT_EQ(
      "RUN    STATE   DONE  FAILED  AGE\n"
      "run-1  FAILED  5/5   2       1m00s\n",
      RenderRunTable({Dag("run-1", "FAILED", 5, 5, 2)}, kT0 + 60'000));
}

TEST(DagDetail, ListsJobsWithStartOffsetsDurationsAndNotes) {
  DagDetail d{Dag("nightly", "RUNNING", 4, 2, 0), {}};
  JobView extract = Job("EXTRACT", "COMPLETED", kT0 + 100, kT0 + 1100);
  extract.worker = "h-w1";
  d.jobs = {extract, Gate("EXTRACT", "WAITING_APPROVAL", "waiting for approval: Publish?"),
            Job("LOAD", "BLOCKED"), Job("X", "QUEUED")};
  d.jobs[2].reason = "waiting for parents";
  EXPECT_EQ(
      "dag:        nightly\n"
      "state:      RUNNING\n"
      "jobs:       2/4 done, 0 failed\n"
      "submitted:  " +
          FormatTime(kT0) +
          " (5s ago)\n"
          "running:    5s\n"
          "\n"
          "ID                 STATE             WORKER  START   DURATION  NOTE\n"
          "EXTRACT            COMPLETED         h-w1    +100ms  1s\n"
          "hitl-gate-EXTRACT  WAITING_APPROVAL  -       -       -         \"Publish?\" waiting: titan "
          "approve|reject "
          "hitl-gate-EXTRACT\n"
          "LOAD               BLOCKED           -       -       -         waiting for parents\n"
          "X                  QUEUED            -       -       -\n",
      RenderDagDetail(d, kT0 + 5000));
}

TEST(RunStatus, ShowsEachDagOldestFirst) {
  DagView run = Dag("run-1", "RUNNING", 3, 2, 1);
  DagDetail a{Dag("plan", "FAILED", 2, 2, 1),
              {Job("A", "COMPLETED", kT0, kT0 + 2000), Job("B", "FAILED", kT0, kT0 + 1000)}};
  a.dag.finished_ms = kT0 + 2000;
  a.jobs[0].worker = a.jobs[1].worker = "h-w1";
  a.jobs[1].exit_code = 3;
  DagDetail b{Dag("act", "RUNNING", 1, 0, 0), {Job("C", "RUNNING", kT0 + 1000)}};
  b.jobs[0].worker = "h-w2";
  EXPECT_EQ(
      "run run-1: RUNNING, 2/3 jobs done, 1 failed, 2 DAGs, started 3s ago\n"
      "\n"
      "dag plan: FAILED, 2/2 done, 2s\n"
      "  JOB  STATE      WORKER  DURATION  NOTE\n"
      "  A    COMPLETED  h-w1    2s\n"
      "  B    FAILED     h-w1    1s        exit code 3\n"
      "\n"
      "dag act: RUNNING, 0/1 done, 3s\n"
      "  JOB  STATE    WORKER  DURATION  NOTE\n"
      "  C    RUNNING  h-w2    2s\n",
      RenderRunStatus(run, {a, b}, kT0 + 3000));
}

TEST(ScheduleTable, ShowsNextAndLastTick) {
  ScheduleView s{"nightly", "0 2 * * *", 3, kT0 + 3'600'000, std::nullopt};
  EXPECT_EQ(
      "NAME     CRON (UTC)  JOBS  NEXT                            LAST\n"
      "nightly  0 2 * * *   3     " +
          FormatTime(kT0 + 3'600'000) + " (in 1h00m)  -\n",
      RenderScheduleTable({s}, kT0));
  s.enabled = false;
  s.last_ms = kT0 - 60'000;
  EXPECT_EQ(
      "NAME     CRON (UTC)  JOBS  NEXT      LAST\n"
      "nightly  0 2 * * *   3     disabled  " +
          FormatTime(kT0 - 60'000) + " (1m00s ago)\n",
      RenderScheduleTable({s}, kT0));
}

TEST(Progress, CountsDoneRunningFailedAndSaysWhatIsHappening) {
  std::vector<JobView> jobs{Job("EXTRACT", "COMPLETED", kT0, kT0 + 1), Job("TRANSFORM", "RUNNING", kT0),
                            Job("LOAD", "BLOCKED")};
  EXPECT_EQ("done 1/3  running 1  failed 0  now: TRANSFORM", RenderProgress(jobs));
  jobs[1] = Job("TRANSFORM", "COMPLETED", kT0, kT0 + 1);
  jobs.insert(jobs.begin() + 2, Gate("TRANSFORM", "WAITING_APPROVAL"));
  EXPECT_EQ("done 2/4  running 0  failed 0  now: hitl-gate-TRANSFORM awaits approval", RenderProgress(jobs));
  jobs[2] = Gate("TRANSFORM", "FAILED", "rejected by bob");
  jobs[3].state = "SKIPPED";
  EXPECT_EQ("done 4/4  running 0  failed 2  now: -", RenderProgress(jobs));
  EXPECT_EQ("done 0/1  running 0  failed 0  now: A QUEUED", RenderProgress({Job("A", "QUEUED")}));
}

TEST(DagWatch, ReportsEachChangeOnceAndFlagsGatesAndFailures) {
  DagWatch watch;
  std::vector<JobView> jobs{Job("A", "QUEUED"), Job("B", "BLOCKED")};
  jobs[1].reason = "waiting for parents";
  auto changes = watch.Update(jobs);
  ASSERT_EQ(2u, changes.size());
  EXPECT_EQ("[0/2] A QUEUED", changes[0].line);
  EXPECT_EQ("[0/2] B BLOCKED: waiting for parents", changes[1].line);
  EXPECT_TRUE(watch.Update(jobs).empty());

  jobs[0] = Job("A", "RUNNING", kT0);
  jobs[0].worker = "h-w1";
  changes = watch.Update(jobs);
  ASSERT_EQ(1u, changes.size());
  EXPECT_EQ("[0/2] A RUNNING on h-w1", changes[0].line);
  EXPECT_FALSE(changes[0].notable);

  jobs[0] = Job("A", "COMPLETED", kT0, kT0 + 2000);
  jobs[1] = Job("B", "FAILED", kT0 + 2000, kT0 + 2500);
  jobs[1].exit_code = 3;
  jobs.push_back(Gate("A", "WAITING_APPROVAL"));
  changes = watch.Update(jobs);
  ASSERT_EQ(3u, changes.size());
  EXPECT_EQ("[2/3] A COMPLETED in 2s", changes[0].line);
  EXPECT_EQ("[2/3] B FAILED: exit code 3", changes[1].line);
  EXPECT_TRUE(changes[1].notable);
  EXPECT_EQ("[2/3] hitl-gate-A WAITING_APPROVAL: \"Publish?\" waiting: titan approve|reject hitl-gate-A",
            changes[2].line);
  EXPECT_TRUE(changes[2].notable);
}

TEST(Culprits, AreFailedJobsAndGatesElseCancelledOnes) {
  JobView failed = Job("LOAD", "FAILED", kT0, kT0 + 1);
  failed.reason = "exit 3";
  failed.worker = "h-w2";
  const std::vector<JobView> jobs{Job("A", "COMPLETED"), Gate("A", "FAILED", "rejected by bob: no", "bob"),
                                  failed, Job("Z", "SKIPPED")};
  const std::vector<JobView> culprits = CulpritJobs(jobs);
  ASSERT_EQ(2u, culprits.size());
  EXPECT_EQ("titan: gate hitl-gate-A FAILED: rejected by bob: no\n", RenderCulprit(culprits[0], ""));
  EXPECT_EQ(
      "titan: job LOAD FAILED: exit 3 (worker h-w2)\n"
      "--- last 2 lines of LOAD's log (all of it: titan logs LOAD) ---\n"
      "x\ny\n"
      "---\n",
      RenderCulprit(culprits[1], "x\ny\n"));
  const std::vector<JobView> cancelled = CulpritJobs({Job("A", "CANCELLED"), Job("B", "SKIPPED")});
  ASSERT_EQ(1u, cancelled.size());
  EXPECT_EQ("A", cancelled[0].id);
}

TEST(LastLines, KeepsTheEnd) {
  EXPECT_EQ("b\nc\n", LastLines("a\nb\nc\n", 2));
  EXPECT_EQ("b\nc\n", LastLines("a\nb\nc", 2));
  EXPECT_EQ("a\nb\n", LastLines("a\nb\n", 20));
  EXPECT_EQ("\n", LastLines("a\n\n", 1));
  EXPECT_EQ("", LastLines("", 20));
}

}  // namespace
}  // namespace titan::cli
